// The referring physician's screens: the consult form, whose draft survives
// reloads and dropped links until the server confirms it, and "My consults".
import { api, enc, newKey } from './api.js';
import { strings as S, t } from './strings.js';
import { h, free, badge, empty, countdown, field, select, setOptions, setFieldError, charCount, hhmm, dateTime } from './dom.js';
import { state, merge, changed, holderName, specialtyName, loadSpecialties } from './store.js';

const F = S.form;
const MAX = { question: 2000, summary: 20000 };
const LANGS = ['ar', 'en', 'he'];

// The draft, per user in localStorage: {values, key (the Idempotency-Key), pending}.
const draftKey = () => `consults.draft.${state.me.id}`;
const receiptKey = () => `consults.receipt.${state.me.id}`;
const loadDraft = () => { try { return JSON.parse(localStorage.getItem(draftKey())) || {}; } catch { return {}; } };
const saveDraft = (d) => { try { localStorage.setItem(draftKey(), JSON.stringify(d)); } catch { /* blocked */ } };

// send is the one submission in flight; it outlives the form, so leaving the page
// does not stop a retry.
const send = { active: false, phase: 'idle', text: '', fields: {}, nextTry: 0 };
const setSend = (s) => { Object.assign(send, s); changed(); };

function bodyOf(v) {
  const b = { urgency: v.urgency, specialty: v.specialty, question: v.question, language: v.language,
    patient: { age_years: Number(v.age), sex: v.sex } };
  if (v.reference.trim()) b.patient.reference = v.reference.trim();
  if (v.summary.trim()) b.summary = v.summary;
  return b;
}

// sleep ends early when the device comes back online.
const sleep = (ms) => new Promise((resolve) => {
  const done = () => { clearTimeout(id); window.removeEventListener('online', done); resolve(); };
  const id = setTimeout(done, ms);
  window.addEventListener('online', done);
});

// submitDraft sends the saved draft and retries the same request, with the same
// key, while the network or the server is unavailable.
export async function submitDraft() {
  const me = state.me;
  const d = loadDraft();
  if (send.active || !me || !d.values) return;
  const dk = draftKey();
  saveDraft(Object.assign(d, { key: d.key || newKey(), pending: true }));
  setSend({ active: true, phase: 'sending', text: F.sending, fields: {} });
  for (let attempt = 0; state.me === me; attempt++) {
    try {
      const c = await api('POST', '/api/v1/consults', bodyOf(d.values), { 'Idempotency-Key': d.key });
      localStorage.removeItem(dk);
      sessionStorage.setItem(`consults.receipt.${me.id}`, c.id);
      merge(c);
      setSend({ active: false, phase: 'done', text: '' });
      return;
    } catch (e) {
      if (e.status === 401) break; // the draft stays pending and resumes after sign-in
      if (!e.retryable) {
        // A definite refusal created nothing: the next try is a new request.
        saveDraft(Object.assign(d, { pending: false, key: newKey() }));
        setSend({ active: false, phase: 'error', fields: e.fields, text: Object.keys(e.fields).length ? F.fixErrors : e.message });
        return;
      }
      const wait = e.retryAfter * 1000 || 1000 * 2 ** Math.min(attempt, 5);
      setSend({ phase: 'waiting', text: F.waiting, nextTry: Date.now() + wait });
      await sleep(wait);
      setSend({ phase: 'sending', text: F.sending });
    }
  }
  setSend({ active: false, phase: 'idle', text: '' });
}

export const resumeDraft = () => loadDraft().pending && submitDraft();

export function newConsultView(root) {
  loadSpecialties().catch(() => {});
  const lang = LANGS.includes(state.me.languages?.[0]) ? state.me.languages[0] : 'en';
  const sel = (k, name, opts) => select({ id: `f-${k}`, name, required: true }, opts, S.choose);
  const inp = (tag, k, props) => h(tag, { id: `f-${k}`, dir: 'auto', ...props });
  const c = {
    specialty: sel('specialty', 'specialty', []),
    urgency: sel('urgency', 'urgency', Object.entries(S.urgency)),
    age: inp('input', 'age', { name: 'patient.age_years', type: 'number', min: 0, max: 130, inputmode: 'numeric', required: true }),
    sex: sel('sex', 'patient.sex', Object.entries(S.sex)),
    reference: inp('input', 'reference', { name: 'patient.reference', maxlength: 64, autocomplete: 'off' }),
    language: select({ id: 'f-language', name: 'language' }, LANGS.map((l) => [l, S.languages[l]])),
    question: inp('textarea', 'question', { name: 'question', rows: 4, required: true }),
    summary: inp('textarea', 'summary', { name: 'summary', rows: 7 }),
  };
  const counts = { question: h('span', { class: 'counter' }), summary: h('span', { class: 'counter' }) };
  const submit = h('button', { type: 'submit', id: 'f-submit', class: 'primary', text: F.submit });
  const status = h('p', { id: 'send-status', role: 'status', class: 'form-status' });
  const fieldset = h('fieldset', { class: 'grid' },
    ['specialty', 'urgency', 'age', 'sex', 'reference', 'language'].map((k) => field(F[k], c[k], k === 'reference' && F.referenceHint)),
    ['question', 'summary'].map((k) => h('div', { class: 'wide' }, field(F[k], c[k]), counts[k])));
  const form = h('form', { id: 'consult-form', class: 'card' }, h('h2', { text: F.title }), fieldset,
    h('div', { class: 'actions' }, submit, status), h('p', { class: 'hint', text: F.draftKept }));
  const receipt = h('section', { id: 'receipt', class: 'receipt', role: 'status', hidden: true });
  root.append(receipt, form);

  const values = () => Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value]));
  const fill = (v) => { for (const k in c) c[k].value = v[k] || (k === 'language' ? lang : ''); counters(); };
  function counters() {
    for (const k in counts) {
      const n = charCount(c[k].value);
      counts[k].textContent = t(F.counter, { n, max: MAX[k] });
      counts[k].classList.toggle('over', n > MAX[k]);
    }
  }
  // showErrors marks each field the server named; it returns those no field shows.
  function showErrors(errs) {
    const rest = { ...errs };
    let first = null;
    for (const el of Object.values(c)) {
      const key = [el.name, el.name.split('.').pop()].find((k) => k in rest);
      setFieldError(el, key ? rest[key] : '');
      if (key) { first = first || el; delete rest[key]; }
    }
    first?.focus();
    return Object.entries(rest).map(([k, v]) => ` ${k}: ${v}`).join(';');
  }

  fill(loadDraft().values || {});
  form.addEventListener('input', (e) => {
    const d = loadDraft();
    saveDraft({ ...d, values: values(), key: d.key || newKey() });
    counters();
    setFieldError(e.target, '');
  });
  // The browser checks required fields and ranges; length limits show on the counters.
  let shown = '';
  let extra = '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const over = Object.keys(MAX).find((k) => charCount(c[k].value) > MAX[k]);
    if (over) { shown = ''; setSend({ phase: 'error', text: F.fixErrors, fields: { [over]: t(F.tooLong, { max: MAX[over] }) } }); return; }
    const d = loadDraft();
    saveDraft({ ...d, values: values(), key: d.key || newKey() });
    submitDraft();
  });

  function update() {
    if (c.specialty.options.length <= 1 && state.specialties.length) {
      setOptions(c.specialty, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), S.choose);
      c.specialty.value = loadDraft().values?.specialty || '';
    }
    fieldset.disabled = submit.disabled = send.active;
    if (send.phase !== shown) {
      extra = send.phase === 'error' ? showErrors(send.fields) : '';
      if (send.phase === 'done') { fill({}); showErrors({}); send.phase = 'idle'; }
      shown = send.phase;
    }
    status.className = `form-status ${{ error: 'error', waiting: 'warn' }[send.phase] || ''}`;
    status.replaceChildren(send.text + extra, ...(send.phase === 'waiting'
      ? [' ', h('span', { class: 'muted' }, `(${F.nextTry} `, countdown(new Date(send.nextTry).toISOString(), { expired: '…' }), ')')] : []));
    // The receipt: plainly, the hospital has it, and (live) where it stands.
    const r = state.consults.get(sessionStorage.getItem(receiptKey()));
    receipt.hidden = !r;
    if (r) {
      Object.assign(receipt.dataset, { consultId: r.id, status: r.status });
      receipt.replaceChildren(
        h('p', { text: t(F.receipt, { time: hhmm(r.created_at), status: S.status[r.status] || r.status, with: holderName(r) }) }),
        h('a', { href: `/consults/${enc(r.id)}`, text: F.open }));
    }
  }
  update();
  return { update };
}

export const patientLine = (p) => (p ? [p.age_years != null && t(S.years, { n: p.age_years }), S.sex[p.sex] || p.sex, p.reference]
  .filter(Boolean).join(' · ') : '');

export const consultCard = (c) => h('li', { class: `card consult-card urgency-${c.urgency}`, 'data-consult-id': c.id },
  h('a', { href: `/consults/${enc(c.id)}`, class: 'card-link' },
    h('div', { class: 'row' }, badge('status', c.status), badge('urgency', c.urgency),
      h('strong', { text: specialtyName(c.specialty) }), free('span', patientLine(c.patient), 'muted'),
      h('span', { class: 'muted push', text: dateTime(c.created_at) })),
    free('p', c.question, 'question clamp'),
    h('p', { class: 'muted', text: `${S.detail.with}: ${holderName(c)}` })));

export function myConsultsView(root) {
  const list = h('ul', { id: 'my-consults', class: 'list' });
  root.append(h('h2', { text: S.mine.title }), list);
  const update = () => {
    const all = [...state.consults.values()].sort((a, b) => String(b.created_at).localeCompare(a.created_at));
    list.replaceChildren(...(all.length ? all.map(consultCard) : [empty(state.loaded ? S.mine.empty : S.loading)]));
  };
  update();
  return { update };
}
