// DOM building without HTML strings (clinical text only ever becomes text nodes),
// live clocks, form fields, notices and in-app navigation.
import { strings, t } from './strings.js';

// h creates an element. props: class, text, on<event> (a function), value/hidden/
// disabled (properties); anything else is an attribute. Kids: nodes, strings, arrays.
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'hidden' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(9)) if (kid != null && kid !== false) el.append(kid);
  return el;
}

// free holds clinical free text: its direction follows the text.
export const free = (tag, text, cls) => h(tag, { class: cls, dir: 'auto', text: text || '' });
export const empty = (text) => h('li', { class: 'empty', text });
export const statusLine = () => h('p', { class: 'form-status', role: 'status' });
export const badge = (kind, v) => h('span', { class: `badge ${kind}-${v}`, 'data-status': kind === 'status' ? v : null, text: strings[kind][v] || v });

const pad = (n) => String(n).padStart(2, '0');
export function hhmm(iso) {
  const d = new Date(iso);
  return Number.isNaN(+d) ? '' : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function dateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(+d) || d.toDateString() === new Date().toDateString()) return hhmm(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hhmm(iso)}`;
}

// duration renders milliseconds as "2d 3h", "1h 05m", "4m 09s" or "12s".
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000)), hh = Math.floor(s / 3600), mm = Math.floor(s / 60) % 60;
  if (hh >= 48) return `${Math.floor(hh / 24)}d ${hh % 24}h`;
  return hh ? `${hh}h ${pad(mm)}m` : mm ? `${mm}m ${pad(s % 60)}s` : `${s}s`;
}

// countdown is a live "time left" clock: red once late (or `breached`), showing
// `expired` instead of the overrun when given; onExpire runs once at zero.
// since is a live "time elapsed" clock. One timer ticks them all.
const expireHooks = new WeakMap();
export function countdown(until, { expired, breached, onExpire } = {}) {
  const el = h('span', { class: 'clock', 'data-until': until, 'data-expired': expired, 'data-breached': breached ? '1' : null });
  if (onExpire) expireHooks.set(el, onExpire);
  return tick(el, Date.now());
}
export const since = (from) => tick(h('span', { class: 'clock', 'data-since': from }), Date.now());
function tick(el, now) {
  const d = el.dataset;
  if (d.since) {
    el.textContent = duration(now - Date.parse(d.since));
    return el;
  }
  const left = Date.parse(d.until) - now;
  el.classList.toggle('late', left <= 0 || d.breached === '1');
  el.classList.toggle('soon', left > 0 && left < 300000);
  el.textContent = left > 0 ? duration(left) : d.expired || t(strings.overdue, { d: duration(-left) });
  if (left <= 0 && expireHooks.has(el)) { expireHooks.get(el)(); expireHooks.delete(el); }
  return el;
}
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-until],[data-since]')) tick(el, now);
}, 1000);

// field: label, control, optional hint, and a slot for the server's error.
export function field(label, control, hint) {
  const id = control.id;
  control.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control,
    hint && h('p', { class: 'hint', id: `${id}-hint`, text: hint }),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}
export function setFieldError(control, message) {
  const err = document.getElementById(`${control.id}-error`);
  if (!err) return;
  err.textContent = message;
  err.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true'); else control.removeAttribute('aria-invalid');
}

// select and setOptions take [value, label] pairs; a refill keeps the chosen value.
export function select(props, options, placeholder) {
  const el = h('select', props);
  setOptions(el, options, placeholder);
  return el;
}
export function setOptions(el, options, placeholder) {
  const keep = el.value;
  el.replaceChildren(...(placeholder ? [['', placeholder]] : []).concat(options).map(([v, l]) => h('option', { value: v, text: l })));
  if (keep) el.value = keep;
}

// charCount counts characters as the server does: code points, not UTF-16 units.
export const charCount = (s) => [...(s || '')].length;

let flashTimer = 0;
export function flash(text, kind = 'ok') {
  const box = document.getElementById('flash');
  clearTimeout(flashTimer);
  box.replaceChildren(h('p', { class: `flash ${kind}`, text }));
  flashTimer = setTimeout(() => box.replaceChildren(), 8000);
}

// go changes the in-app route without a page load.
let router = () => {};
export const setRouter = (fn) => { router = fn; };
export function go(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else if (location.pathname !== path) history.pushState(null, '', path);
  router();
}
