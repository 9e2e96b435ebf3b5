// The referring physician's screens: the consult form (common fields beside the
// specialty's own), whose draft survives reloads and dropped links until the server
// confirms it, and "My consults".
import { api, enc, newKey } from './api.js';
import { strings as S, t, num, dateTime, fullDateTime, localized, locale, calendarDate, problemText, flagReasons } from './i18n.js';
import { h, free, badge, empty, countdown, field, select, setOptions, setFieldError, charCount, button, keyed, announce, errorNodes } from './dom.js';
import { state, merge, changed, holderName, holderIds, specialtyName, specialty, loadSpecialties, fetchConsult, loadClosed, closedLoaded, closedMore, pin } from './store.js';
import * as A from './attachments.js';

const F = S.form;
const MAX = { question: 2000, summary: 20000, reference: 64 };
const LANGS = ['ar', 'en', 'he'];

// The draft, per user in localStorage: {values, body, attachments, inflight, pending, key,
// sent, unsure}. body is the form's request; sent is the exact request (JSON) first sent with
// key, the Idempotency-Key: the key is only ever sent with that body, and both stay until
// the server has answered definitely. While the draft is pending the form cannot be edited,
// in any tab. unsure: a try went out and got no answer, so it may have been stored.
const draftKeyOf = (id) => `consults.draft.${id}`;
const draftKey = () => draftKeyOf(state.me.id);
const receiptKey = () => `consults.receipt.${state.me.id}`;
const sentKey = (id) => `consults.sent.${id}`; // the last consult sent, for the user's other tabs
const loadDraftOf = (id) => { try { return JSON.parse(localStorage.getItem(draftKeyOf(id))) || {}; } catch { return {}; } };
const loadDraft = () => (state.me ? loadDraftOf(state.me.id) : {});
const saveDraftOf = (id, d) => { try { localStorage.setItem(draftKeyOf(id), JSON.stringify(d)); } catch { /* storage full or blocked */ } };
const saveDraft = (d) => saveDraftOf(state.me.id, d);
const unsent = (d) => !!(d.pending && d.body);
// What was uploaded, and what was still on its way (to say so should the page close).
A.setSaveHook(() => {
  if (state.me?.role !== 'referrer') return;
  const d = loadDraft();
  if (!d.sent) saveDraft({ ...d, attachments: A.doneFiles(), inflight: A.inflightNames() });
});

// send is this tab's submission; it outlives the form, so leaving the page does not stop a
// retry, but not the session: endDraftSession stops it. user: whose it is.
// gen counts phase changes: a render may miss a phase that came and went in between.
const IDLE = { user: '', active: false, phase: 'idle', text: '', fields: {}, problems: {}, local: false, error: null, nextTry: 0 };
const send = { ...IDLE, gen: 0 };
const setSend = (s) => { Object.assign(send, s); if (s.phase) send.gen++; changed(); };
let run = 0; // the current loop's ticket; a loop whose ticket is no longer current stops
let wake = () => {};
let stopWaiting = null; // a lock request queued behind another tab's loop

// bodyOf turns the form's values into the request; details are typed by the specialty's form.
function bodyOf(v) {
  const b = { urgency: v.urgency, specialty: v.specialty, question: v.question, patient: { age_years: Number(v.age), sex: v.sex } };
  if (v.language) b.language = v.language;
  if (v.reference.trim()) b.patient.reference = v.reference.trim();
  if (v.summary.trim()) b.summary = v.summary;
  const details = {};
  for (const f of specialty(v.specialty)?.form || []) {
    const raw = v.details?.[f.key];
    if (raw == null || String(raw).trim() === '') continue;
    details[f.key] = f.type === 'number' ? Number(raw) : f.type === 'boolean' ? raw === 'true' : String(raw).trim();
  }
  if (Object.keys(details).length) b.details = details;
  return b;
}

// sleep ends early when the device comes back online, someone asks to try now, or the session ends.
const sleep = (ms) => new Promise((resolve) => {
  const done = () => { clearTimeout(id); window.removeEventListener('online', done); wake = () => {}; resolve(); };
  const id = setTimeout(done, ms);
  window.addEventListener('online', done);
  wake = done;
});

// sendLoop sends the user's pending draft, and again with the same key and the same body
// while the network or the server is unavailable, as long as live() holds.
async function sendLoop(me, live) {
  for (let attempt = 0; live(); attempt++) {
    let d = loadDraftOf(me.id);
    if (!unsent(d)) return;
    if (!d.sent) {
      // The first try waits for the uploads; from then on the request is fixed, with its key.
      if (A.busy()) {
        setSend({ phase: 'files', text: F.waitingFiles });
        await A.settled();
        continue;
      }
      const failed = A.files.filter((f) => f.state === 'failed');
      if (failed.length) {
        saveDraftOf(me.id, { ...d, pending: false });
        setSend({ active: false, phase: 'error', text: F.fixErrors, local: true, problems: {}, fields: { attachments: failed.map((f) => `${f.name}: ${f.error}`).join('; ') } });
        return;
      }
      const body = { ...d.body };
      const ids = A.doneFiles().map((a) => a.id);
      if (ids.length) body.attachments = ids;
      d = { ...d, sent: JSON.stringify(body), key: d.key || newKey() };
      saveDraftOf(me.id, d);
    }
    if (send.phase !== 'sending') setSend({ phase: 'sending', text: F.sending });
    const online = navigator.onLine; // offline, the request cannot leave this device
    try {
      const c = await api('POST', '/api/v1/consults', JSON.parse(d.sent), { 'Idempotency-Key': d.key });
      localStorage.removeItem(draftKeyOf(me.id));
      try { localStorage.setItem(sentKey(me.id), c.id); } catch { /* blocked */ }
      if (!live()) return;
      sessionStorage.setItem(receiptKey(), c.id);
      merge(c);
      A.clearFiles();
      setSend({ active: false, phase: 'done', text: '' });
      return;
    } catch (e) {
      if (e.status === 401) return; // the draft stays pending and resumes after sign-in
      // 409: a request with this key is still being stored; the same key finds its outcome.
      if (!e.retryable && e.status !== 409) {
        // A definite refusal created nothing: the next try is a new request with a new key.
        const { key, sent, unsure, ...rest } = loadDraftOf(me.id);
        saveDraftOf(me.id, { ...rest, pending: false });
        if (live()) setSend({ active: false, phase: 'error', fields: e.fields, problems: e.problems, error: Object.keys(e.fields).length ? null : e, text: F.fixErrors });
        return;
      }
      // No answer at all: the request may have been stored and only the answer lost.
      if (e.status === 0 && online && !d.unsure) saveDraftOf(me.id, { ...loadDraftOf(me.id), unsure: true });
      const unsure = loadDraftOf(me.id).unsure;
      const wait = e.retryAfter * 1000 || Math.min(60000, 1000 * 2 ** Math.min(attempt, 6));
      if (!live()) return;
      setSend({ phase: 'waiting', text: unsure ? F.waitingUnsure : e.status === 0 ? F.waiting : e.budget ? F.waitingBudget : F.waitingServer, nextTry: Date.now() + wait });
      await sleep(wait);
    }
  }
}

// submitDraft sends the user's pending draft from this tab, unless another tab of this
// browser is sending it already: then this one waits its turn, and finds it sent.
export async function submitDraft() {
  const me = state.me;
  if (!me || me.role !== 'referrer' || (send.active && send.user === me.id) || !unsent(loadDraft())) return;
  const ticket = ++run;
  const live = () => ticket === run && state.me?.id === me.id;
  Object.assign(send, IDLE);
  setSend({ user: me.id, active: true, phase: 'sending', text: F.sending });
  try {
    if (navigator.locks?.request) {
      const name = `consults.send.${me.id}`;
      const ran = await navigator.locks.request(name, { ifAvailable: true }, (lock) => (lock ? sendLoop(me, live).then(() => true) : false));
      if (!ran && live()) {
        setSend({ phase: 'elsewhere', text: F.elsewhere });
        stopWaiting = new AbortController();
        await navigator.locks.request(name, { signal: stopWaiting.signal }, () => (live() ? sendLoop(me, live) : null)).catch(() => {});
      }
    } else {
      // Without Web Locks two tabs may both send: the same key and body make it one consult.
      await sendLoop(me, live);
    }
  } finally {
    if (ticket === run) {
      if (send.active) setSend({ active: false, phase: 'idle', text: '' });
      // Still pending (another tab stopped half-way, say): go on from here.
      if (state.me?.id === me.id && unsent(loadDraftOf(me.id))) setTimeout(submitDraft, 1000);
    }
  }
}

export function resumeDraft() {
  const d = loadDraft();
  A.restore(d.attachments);
  if (unsent(d)) submitDraft();
}

// hasUnsent reports whether user id's consult request is waiting to be confirmed by the server.
export const hasUnsent = (id) => unsent(loadDraftOf(id));

// forgetUser removes from this browser everything typed by user id and kept until the server has
// it (the consult draft, replies in threads, the last receipt): on a shared clinic computer, the
// next person must not find a patient's details. Other users' drafts stay.
export function forgetUser(id) {
  const escaped = id.replace(/[.*+?^$()|[\]{}\\]/g, (c) => '\\' + c);
  const mine = new RegExp('^consults\\.[a-z_-]+\\.' + escaped + '(\\.|$)');
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const k = localStorage.key(i);
    if (k && mine.test(k)) localStorage.removeItem(k);
  }
}

// endDraftSession stops this tab's submission (the draft stays stored, pending, for the
// user's next sign-in) and forgets in-memory uploads when the user signs out.
export function endDraftSession() {
  run++;
  wake();
  stopWaiting?.abort();
  stopWaiting = null;
  Object.assign(send, IDLE);
  send.gen++;
  A.clearFiles();
}

// Another tab of this user changed the draft or sent it.
let onDraftElsewhere = () => {};
window.addEventListener('storage', (e) => {
  if (!state.me || state.me.role !== 'referrer' || !e.key) return;
  if (e.key === sentKey(state.me.id) && e.newValue) {
    sessionStorage.setItem(receiptKey(), e.newValue);
    fetchConsult(e.newValue).catch(() => {});
  }
  if (e.key === draftKey()) onDraftElsewhere(e.newValue);
  changed();
});

// check mirrors the server's rules for one control; it returns the problem or ''.
function check(el) {
  if (el.validity?.badInput) return S.v.number;
  const v = el.value.trim();
  if (!v) return el.required ? S.v.required : '';
  const d = el.dataset;
  if (el.type === 'number') {
    const n = Number(v);
    if (!Number.isFinite(n)) return S.v.number;
    if (d.whole && !Number.isInteger(n)) return S.v.whole;
    const min = el.min === '' ? null : Number(el.min), max = el.max === '' ? null : Number(el.max);
    if ((min != null && n < min) || (max != null && n > max)) {
      if (min != null && max != null) return t(S.v.range, { min: num(min), max: num(max) });
      return min != null ? t(S.v.min, { min: num(min) }) : t(S.v.max, { max: num(max) });
    }
  }
  if (el.type === 'date' && Number.isNaN(Date.parse(v))) return S.v.date;
  if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === el.value)) return S.v.choice;
  const maxLen = Number(d.maxlength);
  if (maxLen && charCount(el.value) > maxLen) return t(S.v.maxLength, { max: num(maxLen) });
  return '';
}
function detailControl(f) {
  const id = `f-d-${f.key}`, name = `details.${f.key}`;
  let el;
  let hint = null;
  switch (f.type) {
    case 'longtext': el = h('textarea', { id, name, rows: 3, dir: 'auto' }); break;
    case 'number': el = h('input', { id, name, type: 'number', step: 'any', inputmode: 'decimal', min: f.min, max: f.max }); break;
    case 'boolean': el = select({ id, name }, [['true', S.yes], ['false', S.no]], S.none); break;
    // The browser draws the date control in its own language and order (its language is not
    // the page's, nor knowable): a hint in the page's says how to use it, and then says the
    // chosen date in words.
    case 'date': el = h('input', { id, name, type: 'date' }); hint = ' '; break;
    case 'select': el = select({ id, name }, (f.options || []).map((o) => [String(o.value), localized(o.label, String(o.value))]), S.choose); break;
    default: el = h('input', { id, name, type: 'text', dir: 'auto' });
  }
  el.required = !!f.required;
  if (f.max_length) el.dataset.maxlength = f.max_length;
  // A unit keeps its own left-to-right order inside a right-to-left label.
  const label = [localized(f.label, f.key), f.unit ? [' (', h('bdi', { dir: 'ltr', class: 'unit', text: f.unit }), ')'] : null];
  const wrap = field(label, el, hint, f.type === 'longtext' ? 'wide' : '');
  return { el, wrap, hint: hint && wrap.querySelector('.hint') };
}

export function newConsultView(root) {
  loadSpecialties().catch(() => {});
  const draft0 = loadDraft();
  A.restore(draft0.attachments);
  const lostNames = (draft0.inflight || []).filter((n) => !A.files.some((f) => f.name === n));
  if (draft0.inflight?.length && !draft0.sent) saveDraft({ ...draft0, inflight: A.inflightNames() });
  const lang = LANGS.includes(state.me.languages?.[0]) ? state.me.languages[0] : locale();
  const sel = (k, name, opts) => select({ id: `f-${k}`, name, required: true }, opts, S.choose);
  const inp = (tag, k, props) => h(tag, { id: `f-${k}`, dir: 'auto', ...props });
  const c = {
    specialty: sel('specialty', 'specialty', []),
    urgency: sel('urgency', 'urgency', Object.entries(S.urgency)),
    age: h('input', { id: 'f-age', name: 'patient.age_years', type: 'number', min: 0, max: 130, step: 1, inputmode: 'numeric', required: true, 'data-whole': '1' }),
    sex: sel('sex', 'patient.sex', Object.entries(S.sex)),
    reference: inp('input', 'reference', { name: 'patient.reference', autocomplete: 'off', 'data-maxlength': MAX.reference }),
    question: inp('textarea', 'question', { name: 'question', rows: 4, required: true, 'data-maxlength': MAX.question }),
    summary: inp('textarea', 'summary', { name: 'summary', rows: 6, 'data-maxlength': MAX.summary }),
    language: select({ id: 'f-language', name: 'language' }, LANGS.map((l) => [l, S.languages[l]])),
  };
  // The draft's specialty, kept while the list of specialties has not arrived (a slow link):
  // until then the control cannot hold it.
  let wantSpecialty = draft0.values?.specialty || '';
  const counts = { question: h('span', { class: 'counter', id: 'f-question-count' }), summary: h('span', { class: 'counter', id: 'f-summary-count' }) };
  const submit = h('button', { type: 'submit', id: 'f-submit', class: 'primary', text: F.submit });
  // Not a live region: it holds a ticking clock. Changes are announced once (announce).
  const status = h('div', { id: 'send-status', class: 'form-status', tabindex: '-1' });
  const lockNote = h('p', { id: 'f-locked', class: 'hint', hidden: true, text: F.locked });
  const clear = button(F.draftCleared, () => {
    if (unsent(loadDraft())) return;
    localStorage.removeItem(draftKey()); A.clearFiles(); fill({}); renderDetails(''); showErrors({});
  }, { class: 'link', id: 'f-clear' });
  const files = A.filesField();
  const detailsLegend = h('legend');
  const detailsBox = h('fieldset', { class: 'grid details', id: 'details-fields', hidden: true }, detailsLegend);
  let detailCtl = {};
  let dateHints = [];
  let detailsFor = null;

  const wide = (k) => h('div', { class: 'wide' }, field(F[k], c[k]), counts[k]);
  const fieldset = h('fieldset', { class: 'stack' },
    h('fieldset', { class: 'grid' }, h('legend', { text: F.caseGroup }), field(F.specialty, c.specialty), field(F.urgency, c.urgency)),
    h('fieldset', { class: 'grid grid3' }, h('legend', { text: F.patientGroup }), field(F.age, c.age), field(F.sex, c.sex),
      field(F.reference, c.reference, F.referenceHint)),
    detailsBox,
    wide('question'), wide('summary'),
    h('div', { class: 'grid' }, field(F.language, c.language)),
    files.el);
  const lost = lostNames.map((n) => h('p', { class: 'notice', dir: 'auto', text: t(S.files.lost, { name: n }) }));
  const form = h('form', { id: 'consult-form', class: 'card', novalidate: true }, h('h2', { text: F.title }), ...lost, lockNote, fieldset,
    h('div', { class: 'actions' }, submit, clear), status, h('p', { class: 'hint', text: F.draftKept }));

  // The receipt is built once and updated in place, so focus on its link survives updates.
  const rMain = h('p', { class: 'receipt-main', id: 'receipt-main' });
  const rWith = h('span', { class: 'receipt-with' });
  const rBadge = h('span');
  const rRaised = h('p', { class: 'raised', hidden: true });
  const rLink = h('a', { id: 'receipt-open' });
  const receipt = h('section', { id: 'receipt', class: 'receipt', hidden: true, 'aria-labelledby': 'receipt-main' },
    rMain, h('p', {}, rWith, ' ', rBadge), rRaised, h('p', {}, rLink));
  root.append(receipt, form);
  let receiptSig = '';
  let unpin = null;

  function renderDetails(slug) {
    const sp = specialty(slug);
    if (slug === detailsFor && (!slug || sp)) return;
    detailsFor = sp || !slug ? slug : null; // again once the specialties arrive
    const form = sp?.form || [];
    const saved = loadDraft().values?.details || {};
    detailCtl = {};
    dateHints = [];
    const wraps = form.map((f) => {
      const { el, wrap, hint } = detailControl(f);
      detailCtl[f.key] = el;
      el.value = saved[f.key] ?? '';
      if (hint) dateHints.push([el, hint]);
      return wrap;
    });
    detailsLegend.textContent = t(F.detailsGroup, { specialty: specialtyName(slug) });
    detailsBox.replaceChildren(detailsLegend, h('p', { class: 'hint wide', text: F.detailsHint }), ...wraps);
    detailsBox.hidden = !form.length;
    syncDateHints();
  }
  function syncDateHints() {
    for (const [el, hint] of dateHints) {
      const text = el.value && !el.validity.badInput ? t(F.dateChosen, { date: calendarDate(el.value) }) : F.dateHint;
      if (hint.textContent !== text) hint.textContent = text;
    }
  }
  const controls = () => [...Object.values(c), ...Object.values(detailCtl)];
  const values = () => ({
    ...Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value])),
    specialty: c.specialty.value || (c.specialty.options.length <= 1 ? wantSpecialty : ''),
    details: { ...(loadDraft().values?.details || {}), ...Object.fromEntries(Object.entries(detailCtl).map(([k, el]) => [k, el.value])) },
  });
  function fill(v) {
    for (const k in c) c[k].value = v[k] || (k === 'language' ? lang : '');
    wantSpecialty = v.specialty || '';
    for (const [k, el] of Object.entries(detailCtl)) el.value = v.details?.[k] ?? '';
    counters();
    syncDateHints();
  }
  function counters() {
    for (const k in counts) {
      const n = charCount(c[k].value);
      counts[k].textContent = t(F.counter, { n: num(n), max: num(MAX[k]) });
      counts[k].classList.toggle('over', n > MAX[k]);
    }
  }
  // showErrors marks each field the server (or the client check) named, and focuses
  // the first; it returns what no field shows. The server's are worded from problems
  // (its codes), with the English sentences of errs as the fallback.
  function showErrors(errs, server, problems = {}) {
    const rest = { ...errs };
    const say = (k) => (server ? problemText(problems[k], rest[k]) : rest[k]);
    let first = null;
    for (const el of controls()) {
      const key = [el.name, el.name.split('.').pop()].find((k) => k in rest);
      setFieldError(el, key ? say(key) : '');
      if (key) { first = first || el; delete rest[key]; }
    }
    const fileKeys = Object.keys(rest).filter((k) => k === 'attachments' || k.startsWith('attachments.') || k.startsWith('attachments['));
    setFieldError(files.input, fileKeys.map(say).join('; '));
    for (const k of fileKeys) delete rest[k];
    if (fileKeys.length) first = first || files.input;
    first?.focus();
    return Object.keys(rest).map((k) => ` ${k}: ${problemText(problems[k], rest[k])}`).join(';');
  }

  fill(draft0.values || {});
  // Edits are kept until the draft is sent; a pending draft's values stay as they were sent.
  const persist = () => { const d = loadDraft(); if (!unsent(d)) saveDraft({ ...d, values: values() }); };
  form.addEventListener('input', (e) => {
    persist(); counters(); syncDateHints();
    if (e.target.getAttribute('aria-invalid')) setFieldError(e.target, check(e.target));
  });
  form.addEventListener('change', (e) => {
    if (e.target === c.specialty) renderDetails(c.specialty.value);
    persist();
  });
  form.addEventListener('focusout', (e) => { if (e.target.name && e.target.value) setFieldError(e.target, check(e.target)); });
  // Another tab of this user changed the draft (this one shows it, unless typing here) or sent it.
  onDraftElsewhere = (raw) => {
    if (!raw) { fill({}); renderDetails(''); A.clearFiles(); return; }
    let d = {};
    try { d = JSON.parse(raw) || {}; } catch { /* unreadable: keep what shows */ }
    A.restore(d.attachments);
    if (document.hidden || !form.contains(document.activeElement) || unsent(d)) { fill(d.values || {}); renderDetails(c.specialty.value); }
  };

  let shown = -1;
  let extra = '';
  let said = '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (unsent(loadDraft())) return; // being sent already, in this tab or another
    const errs = {};
    for (const el of controls()) { const p = check(el); if (p) errs[el.name] = p; }
    if (Object.keys(errs).length) {
      showErrors(errs);
      setSend({ ...IDLE, user: state.me.id, phase: 'error', text: F.fixErrors });
      shown = send.gen; // the client's marks stay; the server named nothing
      extra = '';
      return;
    }
    showErrors({});
    const v = values();
    // A new request: a new key is made for it when it is first sent.
    const { key, sent, unsure, ...d } = loadDraft();
    saveDraft({ ...d, values: v, body: bodyOf(v), pending: true });
    submitDraft();
  });

  function update() {
    if (c.specialty.options.length <= 1 && state.specialties.length) {
      setOptions(c.specialty, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), S.choose);
      c.specialty.value = wantSpecialty;
    }
    if (detailsFor !== c.specialty.value) renderDetails(c.specialty.value);
    const d = loadDraft();
    const mine = send.user === state.me.id;
    // A pending draft is always being sent: from here, or from another tab of this browser.
    if (unsent(d) && !(mine && send.active)) submitDraft();
    const locked = unsent(d) || (mine && send.active);
    fieldset.disabled = submit.disabled = locked;
    lockNote.hidden = !locked;
    clear.hidden = locked;
    files.update(locked);
    syncDateHints();
    if (mine && send.gen !== shown) {
      extra = send.phase === 'error' ? showErrors(send.fields, !send.local, send.problems) : '';
      if (send.phase === 'done') { fill({}); showErrors({}); renderDetails(''); send.phase = 'idle'; }
      shown = send.gen;
    }
    const phase = mine ? send.phase : 'idle';
    status.className = `form-status ${{ error: 'error', waiting: 'warn', files: 'warn', elsewhere: 'warn' }[phase] || ''}`;
    status.dataset.phase = phase;
    const text = !mine ? [] : phase === 'error' && send.error ? errorNodes(send.error) : send.text ? [send.text + extra] : [];
    // Rebuilt only when what it says changes: the "Try now" button keeps its focus.
    const statusSig = JSON.stringify([phase, send.gen, send.text, extra, locale()]);
    if (status.dataset.sig !== statusSig) {
      const hadFocus = status.contains(document.activeElement);
      status.dataset.sig = statusSig;
      status.replaceChildren(...(text.length ? [h('span', { class: 'status-text' }, text)] : []), ...(phase === 'waiting'
        ? [' ', h('span', { class: 'muted' }, '(', t(F.nextTry, { d: '' }), countdown(new Date(send.nextTry).toISOString(), { expired: '…' }), ') '),
          button(F.retryNow, () => wake(), { class: 'small', id: 'f-retry' })] : []));
      if (hadFocus) (document.getElementById('f-retry') || status).focus();
    }
    // Said once per change of what it says: a retry every few seconds is not news.
    const words = text.map((x) => (typeof x === 'string' ? x : x.textContent)).join(' ');
    if (phase === 'idle' || phase === 'done') said = '';
    else if (phase !== 'sending' && words && words !== said) { said = words; announce(words); }
    renderReceipt();
  }

  // The receipt: plainly, the hospital has it, when, and (live) who has it now.
  function renderReceipt() {
    const r = state.consults.get(sessionStorage.getItem(receiptKey()));
    receipt.hidden = !r;
    if (!r) return;
    const raised = r.red_flags?.length && r.requested_urgency && r.requested_urgency !== r.urgency;
    const holder = holderIds(r).length ? t(F.receiptWith, { who: holderName(r) }) : F.receiptRouting;
    const sig = JSON.stringify([r.id, r.status, r.urgency, holder, raised ? flagReasons(r) : 0, locale()]);
    if (sig === receiptSig) return;
    const first = receipt.dataset.consultId !== r.id;
    receiptSig = sig;
    if (first) { unpin?.(); unpin = pin(r.id); }
    Object.assign(receipt.dataset, { consultId: r.id, status: r.status, urgency: r.urgency, createdAt: r.created_at });
    rMain.textContent = t(F.receipt, { time: fullDateTime(r.created_at) });
    rWith.textContent = holder;
    rBadge.replaceChildren(badge('status', r.status));
    rRaised.hidden = !raised;
    if (raised) {
      const [before, after] = F.raised.split('{reasons}');
      rRaised.replaceChildren(t(before, { urgency: S.urgency[r.urgency] || r.urgency }), free('span', flagReasons(r).join('; ')), t(after || '', {}));
    }
    rLink.href = `/consults/${enc(r.id)}`;
    rLink.textContent = F.open;
    announce(first ? `${rMain.textContent} ${holder}` : `${holder} ${S.status[r.status] || r.status}`);
  }
  update();
  return { update, unmount: () => { unpin?.(); onDraftElsewhere = () => {}; } };
}

export const patientLine = (p) => (p ? [p.age_years != null && t(S.years, { n: num(p.age_years) }), S.sex[p.sex] || p.sex]
  .filter(Boolean).join(' · ') : '');

// cardSig is what a consult card shows, to rebuild it only when that changes.
export const cardSig = (c) => JSON.stringify([c.status, c.urgency, c.specialty, c.question, c.patient, c.attachments?.length, holderName(c), locale()]);

export const consultCard = (c) => h('li', { class: `card consult-card urgency-${c.urgency}`, 'data-consult-id': c.id, 'data-status': c.status },
  h('a', { href: `/consults/${enc(c.id)}`, class: 'card-link' },
    h('div', { class: 'row' }, badge('status', c.status), badge('urgency', c.urgency),
      h('strong', { text: specialtyName(c.specialty) }), h('span', { class: 'muted', text: patientLine(c.patient) }),
      c.patient?.reference ? free('span', c.patient.reference, 'muted') : null,
      h('span', { class: 'muted push', text: dateTime(c.created_at) })),
    free('p', c.question, 'question clamp'),
    h('p', { class: 'muted' }, `${S.detail.with}: `, h('span', { class: 'holder', text: holderName(c) }),
      c.attachments?.length ? ` · ${S.detail.attachments}: ${num(c.attachments.length)}` : '')));

// My consults: the open ones at once, then the closed ones, newest first, a page at a time.
export function myConsultsView(root) {
  const list = h('ul', { id: 'my-consults', class: 'list' });
  const more = button(S.mine.more, () => { more.disabled = true; loadClosed().catch(() => {}).finally(() => { more.disabled = false; }); },
    { class: 'small', id: 'mine-more' });
  root.append(h('h2', { text: S.mine.title }), list, more);
  if (!closedLoaded()) loadClosed().catch(() => {});
  const update = () => {
    const all = [...state.consults.values()].sort((a, b) => String(b.created_at).localeCompare(a.created_at));
    keyed(list, all, (c) => c.id, cardSig, consultCard, () => empty(state.loaded ? S.mine.empty : S.loading));
    more.hidden = !closedMore();
  };
  update();
  return { update };
}
