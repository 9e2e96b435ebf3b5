// The referring physician's screens: the consult form (common fields beside the
// specialty's own), whose draft survives reloads and dropped links until the server
// confirms it, and "My consults".
import { api, enc, newKey } from './api.js';
import { strings as S, t, num, time, dateTime, localized, locale } from './i18n.js';
import { h, free, badge, empty, countdown, field, select, setOptions, setFieldError, charCount, button, keyed } from './dom.js';
import { state, merge, changed, holderName, holderIds, specialtyName, specialty, loadSpecialties } from './store.js';
import * as A from './attachments.js';

const F = S.form;
const MAX = { question: 2000, summary: 20000, reference: 64 };
const LANGS = ['ar', 'en', 'he'];

// The draft, per user in localStorage: {values, body, attachments, key (the
// Idempotency-Key), pending}. body is the request as it was when sent.
const draftKey = () => `consults.draft.${state.me.id}`;
const receiptKey = () => `consults.receipt.${state.me.id}`;
const loadDraft = () => { try { return JSON.parse(localStorage.getItem(draftKey())) || {}; } catch { return {}; } };
const saveDraft = (d) => { try { localStorage.setItem(draftKey(), JSON.stringify(d)); } catch { /* storage full or blocked */ } };
// What was uploaded, and what was still on its way (to say so should the page close).
A.setSaveHook(() => { if (state.me?.role === 'referrer') saveDraft({ ...loadDraft(), attachments: A.doneFiles(), inflight: A.inflightNames() }); });

// send is the one submission in flight; it outlives the form, so leaving the page
// does not stop a retry.
// gen counts phase changes: a render may miss a phase that came and went in between.
const send = { active: false, phase: 'idle', text: '', fields: {}, nextTry: 0, gen: 0 };
const setSend = (s) => { Object.assign(send, s); if (s.phase) send.gen++; changed(); };
let wake = () => {};

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

// sleep ends early when the device comes back online or someone asks to try now.
const sleep = (ms) => new Promise((resolve) => {
  const done = () => { clearTimeout(id); window.removeEventListener('online', done); wake = () => {}; resolve(); };
  const id = setTimeout(done, ms);
  window.addEventListener('online', done);
  wake = done;
});

// submitDraft sends the saved draft and retries the same request, with the same
// key, while the network or the server is unavailable.
export async function submitDraft() {
  const me = state.me;
  let d = loadDraft();
  if (send.active || !me || !d.body) return;
  const dk = draftKey();
  d = { ...d, key: d.key || newKey(), pending: true };
  saveDraft(d);
  setSend({ active: true, phase: 'sending', text: F.sending, fields: {} });
  for (let attempt = 0; state.me === me; attempt++) {
    if (A.busy()) {
      setSend({ phase: 'files', text: F.waitingFiles });
      await A.settled();
      if (state.me !== me) break;
    }
    const failed = A.files.filter((f) => f.state === 'failed');
    if (failed.length) {
      saveDraft({ ...loadDraft(), pending: false });
      setSend({ active: false, phase: 'error', text: F.fixErrors, fields: { attachments: failed.map((f) => `${f.name}: ${f.error}`).join('; ') } });
      return;
    }
    const body = { ...d.body };
    const ids = A.doneFiles().map((a) => a.id);
    if (ids.length) body.attachments = ids;
    try {
      const c = await api('POST', '/api/v1/consults', body, { 'Idempotency-Key': d.key });
      localStorage.removeItem(dk);
      sessionStorage.setItem(`consults.receipt.${me.id}`, c.id);
      merge(c);
      A.clearFiles();
      setSend({ active: false, phase: 'done', text: '' });
      return;
    } catch (e) {
      if (e.status === 401) break; // the draft stays pending and resumes after sign-in
      // 409: a request with this key is still being stored; the same key finds its outcome.
      if (!e.retryable && e.status !== 409) {
        // A definite refusal created nothing: the next try is a new request.
        saveDraft({ ...loadDraft(), pending: false, key: newKey() });
        setSend({ active: false, phase: 'error', fields: e.fields, text: Object.keys(e.fields).length ? F.fixErrors : e.message });
        return;
      }
      const wait = e.retryAfter * 1000 || Math.min(60000, 1000 * 2 ** Math.min(attempt, 6));
      setSend({ phase: 'waiting', text: e.status === 0 || !navigator.onLine ? F.waiting : F.waitingServer, nextTry: Date.now() + wait });
      await sleep(wait);
      setSend({ phase: 'sending', text: F.sending });
    }
  }
  setSend({ active: false, phase: 'idle', text: '' });
}

export function resumeDraft() {
  const d = loadDraft();
  A.restore(d.attachments);
  if (d.pending) submitDraft();
}

// endDraftSession forgets in-memory uploads when the user signs out.
export const endDraftSession = () => A.clearFiles();

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
// serverProblem words the server's problem for a field in the user's language where it can.
const serverProblem = (p) => (p === 'required' ? S.v.required : p === 'unknown field' ? S.v.unknownField
  : locale() === 'en' ? p : t(S.v.server, { problem: p }));

function detailControl(f) {
  const id = `f-d-${f.key}`, name = `details.${f.key}`;
  let el;
  switch (f.type) {
    case 'longtext': el = h('textarea', { id, name, rows: 3, dir: 'auto' }); break;
    case 'number': el = h('input', { id, name, type: 'number', step: 'any', inputmode: 'decimal', min: f.min, max: f.max }); break;
    case 'boolean': el = select({ id, name }, [['true', S.yes], ['false', S.no]], S.none); break;
    case 'date': el = h('input', { id, name, type: 'date' }); break;
    case 'select': el = select({ id, name }, (f.options || []).map((o) => [String(o.value), localized(o.label, String(o.value))]), S.choose); break;
    default: el = h('input', { id, name, type: 'text', dir: 'auto' });
  }
  el.required = !!f.required;
  if (f.max_length) el.dataset.maxlength = f.max_length;
  const label = localized(f.label, f.key) + (f.unit ? ` (${f.unit})` : '');
  return { el, wrap: field(label, el, null, f.type === 'longtext' ? 'wide' : '') };
}

export function newConsultView(root) {
  loadSpecialties().catch(() => {});
  const draft0 = loadDraft();
  A.restore(draft0.attachments);
  const lostNames = (draft0.inflight || []).filter((n) => !A.files.some((f) => f.name === n));
  if (draft0.inflight?.length) saveDraft({ ...draft0, inflight: A.inflightNames() });
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
  const counts = { question: h('span', { class: 'counter', id: 'f-question-count' }), summary: h('span', { class: 'counter', id: 'f-summary-count' }) };
  const submit = h('button', { type: 'submit', id: 'f-submit', class: 'primary', text: F.submit });
  const status = h('div', { id: 'send-status', role: 'status', class: 'form-status', 'aria-live': 'polite' });
  const clear = button(F.draftCleared, () => { localStorage.removeItem(draftKey()); A.clearFiles(); fill({}); renderDetails(''); showErrors({}); }, { class: 'link', id: 'f-clear' });
  const files = A.filesField();
  const detailsLegend = h('legend');
  const detailsBox = h('fieldset', { class: 'grid details', id: 'details-fields', hidden: true }, detailsLegend);
  let detailCtl = {};
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
  const form = h('form', { id: 'consult-form', class: 'card', novalidate: true }, h('h2', { text: F.title }), ...lost, fieldset,
    h('div', { class: 'actions' }, submit, clear), status, h('p', { class: 'hint', text: F.draftKept }));
  const receipt = h('section', { id: 'receipt', class: 'receipt', hidden: true, 'aria-live': 'polite' });
  root.append(receipt, form);

  function renderDetails(slug) {
    const sp = specialty(slug);
    if (slug === detailsFor && (!slug || sp)) return;
    detailsFor = sp || !slug ? slug : null; // again once the specialties arrive
    const form = sp?.form || [];
    const saved = loadDraft().values?.details || {};
    detailCtl = {};
    const wraps = form.map((f) => { const { el, wrap } = detailControl(f); detailCtl[f.key] = el; el.value = saved[f.key] ?? ''; return wrap; });
    detailsLegend.textContent = t(F.detailsGroup, { specialty: specialtyName(slug) });
    detailsBox.replaceChildren(detailsLegend, h('p', { class: 'hint wide', text: F.detailsHint }), ...wraps);
    detailsBox.hidden = !form.length;
  }
  const controls = () => [...Object.values(c), ...Object.values(detailCtl)];
  const values = () => ({ ...Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value])),
    details: { ...(loadDraft().values?.details || {}), ...Object.fromEntries(Object.entries(detailCtl).map(([k, el]) => [k, el.value])) } });
  function fill(v) {
    for (const k in c) c[k].value = v[k] || (k === 'language' ? lang : '');
    for (const [k, el] of Object.entries(detailCtl)) el.value = v.details?.[k] ?? '';
    counters();
  }
  function counters() {
    for (const k in counts) {
      const n = charCount(c[k].value);
      counts[k].textContent = t(F.counter, { n: num(n), max: num(MAX[k]) });
      counts[k].classList.toggle('over', n > MAX[k]);
    }
  }
  // showErrors marks each field the server (or the client check) named, and focuses
  // the first; it returns what no field shows.
  function showErrors(errs, server) {
    const rest = { ...errs };
    let first = null;
    for (const el of controls()) {
      const key = [el.name, el.name.split('.').pop()].find((k) => k in rest);
      setFieldError(el, key ? (server ? serverProblem(rest[key]) : rest[key]) : '');
      if (key) { first = first || el; delete rest[key]; }
    }
    const fileKeys = Object.keys(rest).filter((k) => k === 'attachments' || k.startsWith('attachments.') || k.startsWith('attachments['));
    setFieldError(files.input, fileKeys.map((k) => (server ? serverProblem(rest[k]) : rest[k])).join('; '));
    for (const k of fileKeys) delete rest[k];
    if (fileKeys.length) first = first || files.input;
    first?.focus();
    return Object.entries(rest).map(([k, v]) => ` ${k}: ${v}`).join(';');
  }

  fill(draft0.values || {});
  const persist = () => { const d = loadDraft(); if (!d.pending) saveDraft({ ...d, values: values() }); };
  form.addEventListener('input', (e) => { persist(); counters(); if (e.target.getAttribute('aria-invalid')) setFieldError(e.target, check(e.target)); });
  form.addEventListener('change', (e) => {
    if (e.target === c.specialty) renderDetails(c.specialty.value);
    persist();
  });
  form.addEventListener('focusout', (e) => { if (e.target.name && e.target.value) setFieldError(e.target, check(e.target)); });

  let shown = -1;
  let extra = '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const errs = {};
    for (const el of controls()) { const p = check(el); if (p) errs[el.name] = p; }
    if (Object.keys(errs).length) {
      showErrors(errs);
      setSend({ phase: 'error', text: F.fixErrors, fields: {} });
      shown = send.gen; // the client's marks stay; the server named nothing
      extra = '';
      return;
    }
    showErrors({});
    const v = values();
    saveDraft({ ...loadDraft(), values: v, body: bodyOf(v) });
    submitDraft();
  });

  function update() {
    if (c.specialty.options.length <= 1 && state.specialties.length) {
      setOptions(c.specialty, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), S.choose);
      c.specialty.value = loadDraft().values?.specialty || '';
    }
    if (detailsFor !== c.specialty.value) renderDetails(c.specialty.value);
    fieldset.disabled = submit.disabled = send.active;
    clear.hidden = send.active;
    files.update();
    if (send.gen !== shown) {
      extra = send.phase === 'error' ? showErrors(send.fields, true) : '';
      if (send.phase === 'done') { fill({}); showErrors({}); renderDetails(''); send.phase = 'idle'; }
      shown = send.gen;
    }
    status.className = `form-status ${{ error: 'error', waiting: 'warn', files: 'warn' }[send.phase] || ''}`;
    status.dataset.phase = send.phase;
    status.replaceChildren(...(send.text ? [h('span', { text: send.text + extra })] : []), ...(send.phase === 'waiting'
      ? [' ', h('span', { class: 'muted' }, '(', t(F.nextTry, { d: '' }), countdown(new Date(send.nextTry).toISOString(), { expired: '…' }), ') '),
        button(F.retryNow, () => wake(), { class: 'small', id: 'f-retry' })] : []));
    // The receipt: plainly, the hospital has it, and (live) who has it now.
    const r = state.consults.get(sessionStorage.getItem(receiptKey()));
    receipt.hidden = !r;
    if (r) {
      Object.assign(receipt.dataset, { consultId: r.id, status: r.status, createdAt: r.created_at });
      const raised = r.red_flags?.length && r.requested_urgency && r.requested_urgency !== r.urgency;
      receipt.replaceChildren(
        h('p', { class: 'receipt-main', text: t(F.receipt, { time: time(r.created_at) }) }),
        h('p', {}, holderIds(r).length ? t(F.receiptWith, { who: holderName(r) }) : F.receiptRouting, ' ', badge('status', r.status)),
        raised ? h('p', { class: 'raised' }, t(F.raised, { urgency: S.urgency[r.urgency] || r.urgency, reasons: '' }), free('span', r.red_flags.join('; '))) : null,
        h('p', {}, h('a', { href: `/consults/${enc(r.id)}`, text: F.open })));
    }
  }
  update();
  return { update };
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

export function myConsultsView(root) {
  const list = h('ul', { id: 'my-consults', class: 'list' });
  root.append(h('h2', { text: S.mine.title }), list);
  const update = () => {
    const all = [...state.consults.values()].sort((a, b) => String(b.created_at).localeCompare(a.created_at));
    keyed(list, all, (c) => c.id, cardSig, consultCard, () => empty(state.loaded ? S.mine.empty : S.loading));
  };
  update();
  return { update };
}
