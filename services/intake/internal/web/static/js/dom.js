// DOM building without HTML strings (clinical text only ever becomes text nodes),
// live clocks, form fields, dialogs, notices and in-app navigation.
import { strings, t, duration } from './i18n.js';
import { errorText } from './api.js';

// h creates an element. props: class, text, on<event> (a function), value/hidden/
// disabled/checked (properties); anything else is an attribute. Kids: nodes, strings, arrays.
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  return fill(el, props, kids);
}
function fill(el, props, kids) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'hidden' || k === 'disabled' || k === 'checked') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(9)) if (kid != null && kid !== false) el.append(kid);
  return el;
}
// svg creates an SVG element the same way.
export const svg = (tag, props, ...kids) => fill(document.createElementNS('http://www.w3.org/2000/svg', tag), props, kids);

// free holds clinical free text: its direction follows the text.
export const free = (tag, text, cls) => h(tag, { class: cls, dir: 'auto', text: text || '' });
export const empty = (text) => h('li', { class: 'empty', text });
export const statusLine = () => h('p', { class: 'form-status', role: 'status' });
export const badge = (kind, v) => h('span', { class: `badge ${kind}-${v}`, 'data-status': kind === 'status' ? v : null, text: strings[kind]?.[v] || v });
export const button = (text, onclick, props) => h('button', { type: 'button', text, onclick, ...props });

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
  el.textContent = left > 0 ? duration(left, true) : d.expired || t(strings.overdue, { d: duration(-left) });
  if (left <= 0 && expireHooks.has(el)) { expireHooks.get(el)(); expireHooks.delete(el); }
  return el;
}
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-until],[data-since]')) tick(el, now);
}, 1000);

// field: label, control, optional hint, and a slot for its error (client or server).
export function field(label, control, hint, cls) {
  const id = control.id;
  control.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
  const lab = h('label', { for: id }, label, control.required ? h('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }) : null);
  return h('div', { class: `field ${cls || ''}`, 'data-field': control.name || id }, lab, control,
    hint && h('p', { class: 'hint', id: `${id}-hint`, text: hint }),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}
export function setFieldError(control, message) {
  const err = document.getElementById(`${control.id}-error`);
  if (!err) return;
  err.textContent = message || '';
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
  el.replaceChildren(...(placeholder != null ? [['', placeholder]] : []).concat(options).map(([v, l]) => h('option', { value: v, text: l })));
  if (keep && [...el.options].some((o) => o.value === keep)) el.value = keep;
}

// charCount counts characters as the server does: code points, not UTF-16 units.
export const charCount = (s) => [...(s || '')].length;

// errorNodes words a failed request in the interface's language, with the server's own
// (English) sentence beside it as a detail; showError puts them in a status line.
export function errorNodes(e) {
  const main = errorText(e);
  const detail = e?.server && e.server !== main ? e.server : '';
  return [main, detail ? h('span', { class: 'err-detail', lang: 'en', dir: 'auto', text: detail }) : null].filter(Boolean);
}
export function showError(out, e) {
  out.className = 'form-status error';
  out.replaceChildren(...errorNodes(e));
}

// flash shows a short notice, and says it (announce); text may be nodes (errorNodes).
let flashTimer = 0;
export function flash(text, kind = 'ok') {
  const box = document.getElementById('flash');
  clearTimeout(flashTimer);
  const p = h('p', { class: `flash ${kind}` }, text);
  box.replaceChildren(p);
  announce(p.textContent);
  flashTimer = setTimeout(() => box.replaceChildren(), 8000);
}
export const flashError = (e) => flash(errorNodes(e), 'error');

// announce tells assistive technology about a change once, in the page's one (polite) live
// region: the screens' containers are not live regions, as their clocks tick every second.
let announceTimer = 0;
export function announce(text) {
  const box = document.getElementById('announce');
  if (!box || !text) return;
  clearTimeout(announceTimer);
  box.textContent = '';
  // Emptied first, so the same words said twice are announced twice.
  announceTimer = setTimeout(() => { box.textContent = text; }, 50);
}

// dialog opens a modal dialog: the browser keeps focus inside it and Escape closes it;
// focus goes back to what opened it.
export function dialog(title, ...body) {
  const opener = document.activeElement;
  const id = `dlg-${Math.random().toString(36).slice(2)}`;
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': id },
    h('div', { class: 'dialog-head' }, h('h2', { id, text: title }),
      h('button', { type: 'button', class: 'close', 'aria-label': strings.close, text: '×', onclick: () => d.close() })),
    ...body);
  // A live update may have rebuilt the opener meanwhile: then focus its successor.
  const row = opener?.closest?.('[data-consult-id]')?.dataset.consultId;
  const action = opener?.dataset?.action;
  d.addEventListener('close', () => {
    d.remove();
    const again = !opener?.isConnected && row && action
      ? document.querySelector(`[data-consult-id="${CSS.escape(row)}"] [data-action="${CSS.escape(action)}"]`) : opener;
    again?.focus?.();
  });
  document.body.append(d);
  d.showModal();
  return d;
}

// closeDialogs closes every open dialog (on a change of screen).
export const closeDialogs = () => { for (const d of document.querySelectorAll('dialog[open]')) d.close(); };

// go changes the in-app route without a page load.
let router = () => {};
export const setRouter = (fn) => { router = fn; };
export function go(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else if (location.pathname !== path) history.pushState(null, '', path);
  router();
}

// keyed shows items in container, one element per key, rebuilt only when its signature
// changes; unchanged elements stay in place, so focus and typing survive live updates.
// A rebuilt element that held the focus passes it to its control of the same data-action.
const lists = new WeakMap();
export function keyed(container, items, key, sig, render, emptyEl) {
  const cache = lists.get(container) || new Map();
  lists.set(container, cache);
  const active = document.activeElement;
  let refocus = null;
  const els = items.map((it) => {
    const k = key(it), s = sig(it);
    let e = cache.get(k);
    if (!e || e.sig !== s) {
      const el = render(it);
      if (e?.el.contains(active) && active !== e.el) refocus = { el, action: active.dataset?.action };
      e = { sig: s, el };
      cache.set(k, e);
    }
    return e.el;
  });
  const keep = new Set(items.map(key));
  for (const k of cache.keys()) if (!keep.has(k)) cache.delete(k);
  const want = els.length ? els : [emptyEl()];
  const now = [...container.children];
  if (now.length !== want.length || now.some((el, i) => el !== want[i])) {
    if (!els.length && now.length === 1 && !now[0].firstElementChild && now[0].textContent === want[0].textContent) return;
    container.replaceChildren(...want);
  }
  if (refocus) (refocus.action && refocus.el.querySelector(`[data-action="${refocus.action}"]`) || refocus.el.querySelector('a,button'))?.focus();
}
