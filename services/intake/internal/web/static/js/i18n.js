// The interface's languages: Arabic, Hebrew and English string tables of one shape,
// the current locale (which also sets <html lang dir>), and dates, numbers and
// durations formatted for it with Intl.
import en from './i18n/en.js';
import ar from './i18n/ar.js';
import he from './i18n/he.js';
import { PROBLEM_CODES } from './codes.js';

export const TABLES = { ar, he, en };
export const LOCALES = ['ar', 'he', 'en'];
const RTL = new Set(['ar', 'he']);

// strings is one object for the life of the page: a change of language writes the
// new table into it, so modules may keep references to its parts (S.form, ...).
export const strings = {};
let current = '';
const listeners = new Set();
export const onLocale = (fn) => listeners.add(fn);
export const locale = () => current;
// flagReasons are why red-flag rules raised a consult's urgency, in the page's language when the
// rule gave one (English otherwise).
export const flagReasons = (c) =>
  c.red_flag_reasons?.length ? c.red_flag_reasons.map((m) => m[current] || m.en) : c.red_flags || [];
export const isRTL = () => RTL.has(current);

function assign(dst, src) {
  for (const [k, v] of Object.entries(src)) {
    if (v && typeof v === 'object') assign(dst[k] && typeof dst[k] === 'object' ? dst[k] : (dst[k] = {}), v);
    else dst[k] = v;
  }
}

// Until a language is chosen, English: modules may read the tables as they load.
assign(strings, TABLES.en);

// pick returns the first supported locale among candidates ("ar-PS" counts as "ar").
export function pick(...candidates) {
  for (const c of candidates.flat()) {
    const l = String(c || '').toLowerCase().split(/[-_]/)[0];
    if (l === 'iw') return 'he';
    if (TABLES[l]) return l;
  }
  return '';
}
export const browserLocale = () => pick(navigator.languages || [], navigator.language) || 'en';

export function setLocale(l) {
  l = pick(l) || 'en';
  if (l === current) return false;
  current = l;
  assign(strings, TABLES.en); // a key missing in a table still shows in English
  assign(strings, TABLES[l]);
  const html = document.documentElement;
  html.lang = l;
  html.dir = RTL.has(l) ? 'rtl' : 'ltr';
  fmts.clear();
  for (const fn of listeners) fn(l);
  return true;
}

// t fills {placeholders} in a template.
export const t = (template, vars = {}) => String(template).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));

// localized picks the current language from a {en, ar, he} object.
export const localized = (o, fallback = '') => (o && typeof o === 'object' ? o[current] || o.en || Object.values(o)[0] : o) || fallback;

const fmts = new Map();
function fmt(kind, opts) {
  const k = kind + JSON.stringify(opts);
  if (!fmts.has(k)) fmts.set(k, kind === 'n' ? new Intl.NumberFormat(current, opts) : new Intl.DateTimeFormat(current, opts));
  return fmts.get(k);
}
const date = (iso) => {
  const d = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(+d) ? null : d;
};
export const num = (n, opts) => (n == null || Number.isNaN(Number(n)) ? '' : fmt('n', opts || {}).format(Number(n)));
export const percent = (n) => num(n / 100, { style: 'percent', maximumFractionDigits: 0 });
export function time(iso) {
  const d = date(iso);
  return d ? fmt('d', { hour: '2-digit', minute: '2-digit' }).format(d) : '';
}
// dateTime shows the time alone for today, else the day and the time.
export function dateTime(iso) {
  const d = date(iso);
  if (!d) return '';
  if (d.toDateString() === new Date().toDateString()) return time(d);
  return fmt('d', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(d);
}
export function day(iso, long) {
  const d = date(iso);
  return d ? fmt('d', long ? { weekday: 'long', day: 'numeric', month: 'long' } : { weekday: 'short', day: 'numeric', month: 'short' }).format(d) : '';
}
// calendarDate shows a date without a time ("2025-11-22", as forms store it) in the locale.
export function calendarDate(ymd, opts) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(ymd || ''));
  if (!m) return String(ymd ?? '');
  return fmt('d', { timeZone: 'UTC', ...(opts || { dateStyle: 'long' }) }).format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])));
}
// languageName names a language code in the interface's language: the string table's
// name, else the browser's, else the code.
export function languageName(code) {
  if (strings.languages[code]) return strings.languages[code];
  try { return new Intl.DisplayNames([current], { type: 'language' }).of(code) || code; } catch { return String(code || ''); }
}
// problemWords words each problem code of the API (codes.js PROBLEM_CODES) from the string
// table v and the problem's bounds p; null, or a bound missing, leaves the server's sentence.
const bound = (x) => (typeof x === 'number' && Number.isFinite(x) ? num(x) : null);
const within = (template, vars) => (Object.values(vars).every((x) => x !== null) ? t(template, vars) : null);
const problemWords = {
  required: (v) => v.required,
  unknown_field: (v) => v.unknownField,
  unknown: (v) => v.unknown,
  not_allowed: (v, p) => (Array.isArray(p.allowed) && p.allowed.length ? v.choice : v.notAllowed),
  malformed: (v) => v.malformed,
  invalid_text: (v) => v.control,
  not_a_number: (v) => v.number,
  not_a_whole_number: (v) => v.whole,
  not_a_date: (v) => v.date,
  too_short: (v) => v.tooShort,
  too_long: (v, p) => within(v.maxLength, { max: bound(p.max) }),
  too_many: (v, p) => within(v.tooMany, { max: bound(p.max) }),
  too_small: (v, p) => within(v.min, { min: bound(p.min) }),
  too_large: (v, p) => within(v.max, { max: bound(p.max) }),
  out_of_range: (v, p) => within(v.range, { min: bound(p.min), max: bound(p.max) }),
  duplicate: (v) => v.duplicate,
  invalid: () => null,
};
const knownProblems = new Set(PROBLEM_CODES);

// problemText words a server's problem with one field ({code: 'too_long', max: 2000}, from
// an answer's `problems`) in the interface's language; a code it does not know falls back to
// message, the server's English sentence for the field (from `fields`), marked as such.
export function problemText(problem, message) {
  const p = problem && typeof problem === 'object' ? problem : {};
  const words = knownProblems.has(p.code) && Object.hasOwn(problemWords, p.code) ? problemWords[p.code](strings.v, p) : null;
  if (words) return words;
  const text = String(message ?? '');
  return current === 'en' || !text ? text : t(strings.v.server, { problem: text });
}
export function fullDateTime(iso) {
  const d = date(iso);
  return d ? fmt('d', { dateStyle: 'medium', timeStyle: 'short' }).format(d) : '';
}
const unit = (n, u, pad) => fmt('n', { style: 'unit', unit: u, unitDisplay: 'narrow', minimumIntegerDigits: pad ? 2 : 1 }).format(n);
// duration renders milliseconds as "2d 3h", "1h 05m", "4m 09s" or "12s" in the locale.
// Time left rounds up (`left`): a clock never says "0s" while time remains.
export function duration(ms, left) {
  const s = Math.max(0, (left ? Math.ceil : Math.floor)(ms / 1000)), hh = Math.floor(s / 3600), mm = Math.floor(s / 60) % 60;
  if (hh >= 48) return `${unit(Math.floor(hh / 24), 'day')} ${unit(hh % 24, 'hour')}`;
  if (hh) return `${unit(hh, 'hour')} ${unit(mm, 'minute', true)}`;
  if (mm) return `${unit(mm, 'minute')} ${unit(s % 60, 'second', true)}`;
  return unit(s, 'second');
}
// seconds renders a measured time: fractions under a minute ("0.3s"), else as duration.
export const seconds = (n) => (n < 60 ? fmt('n', { style: 'unit', unit: 'second', unitDisplay: 'narrow', maximumFractionDigits: n < 10 ? 1 : 0 }).format(n) : duration(n * 1000));
export const weekday = (d) => fmt('d', { weekday: 'short' }).format(d);
export const shortDate = (d) => fmt('d', { day: 'numeric', month: 'numeric' }).format(d);
// clock is a 24-hour time of day, as rotas are written.
export const clock = (d) => fmt('d', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(d));
