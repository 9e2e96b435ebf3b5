// One consult: facts, clinical details, question, attachments, thread, timeline, and
// the actions the signed-in role may take on it. Inputs are built once and only shown
// or hidden, so a live update never wipes what someone is typing. Prints cleanly.
import { api, enc, errorText } from './api.js';
import { strings as S, t, num, dateTime, fullDateTime, localized, locale, calendarDate, languageName, flagReasons } from './i18n.js';
import { h, free, badge, empty, statusLine, countdown, field, since, button, showError } from './dom.js';
import { state, merge, forget, fetchConsult, nameOf, holderName, specialtyName, specialty, loadSpecialties, resyncHooks, offerFor, role as roleOf, OPEN, clinicName, pin, wakeAt } from './store.js';
import { patientLine } from './referrer.js';
import { offerActions, offerClock, isDismissed, markSeen } from './specialist.js';
import { coordActions, snoozedUntil } from './coordinator.js';
import { sizeText } from './attachments.js';

const D = S.detail;

async function action(btn, out, fn) {
  btn.disabled = true;
  out.className = 'form-status';
  out.textContent = S.working;
  try {
    const r = await fn();
    out.textContent = D.done;
    return r ?? true;
  } catch (e) {
    showError(out, e);
    return null;
  } finally {
    btn.disabled = false;
  }
}

// unit shows a unit of measure left to right, also inside right-to-left text.
const unit = (u) => h('bdi', { dir: 'ltr', class: 'unit', text: u });

// detailValue shows one answer of the specialty form: choices and dates in words, numbers
// with their unit; typed text keeps its own direction (and a long text its line breaks).
function detailValue(f, v) {
  if (typeof v === 'boolean') return v ? S.yes : S.no;
  if (f?.type === 'select') return localized(f.options?.find((o) => String(o.value) === String(v))?.label, String(v));
  if (typeof v === 'number') return [num(v), f?.unit ? [' ', unit(f.unit)] : null];
  if (f?.type === 'date') return calendarDate(v);
  if (typeof v === 'string') return free(f?.type === 'longtext' ? 'div' : 'span', v, f?.type === 'longtext' ? 'longtext' : '');
  return String(v ?? '');
}

// eventWords describes one timeline event.
function eventWords(ev, c) {
  const person = ev.actor_id !== 'routing' && ev.actor_id;
  const tpl = S.events[ev.type] || t(S.events.other, { type: ev.type });
  const words = [t(tpl, { who: nameOf(ev.specialist_id || person) || S.system, actor: nameOf(person) || S.system })];
  // The arrow (or word) of the interface's language: an arrow does not turn round by itself.
  if (ev.urgency) words.push(t(S.events.to, { value: S.urgency[ev.urgency] || ev.urgency }));
  if (ev.specialty) words.push(t(S.events.to, { value: specialtyName(ev.specialty) }));
  if (ev.until) words.push(t(S.coord.snoozedUntil, { time: dateTime(ev.until) }));
  if (ev.type === 'consult.requested' && c.red_flags?.length && c.requested_urgency && c.requested_urgency !== c.urgency) {
    words.push(`· ${S.detail.requested}: ${S.urgency[c.requested_urgency] || c.requested_urgency} · ${S.detail.redFlags}:`);
  }
  return words.join(' ');
}

export function detailView(root, { id }) {
  const me = state.me;
  const role = roleOf();
  const path = (verb) => `/api/v1/consults/${enc(id)}/${verb}`;
  const refresh = (r) => { merge(r?.consult || r); fetchConsult(id).catch(() => {}); };
  loadSpecialties().catch(() => {});
  let failure = null;
  const load = () => fetchConsult(id).then(() => { failure = null; }, (e) => {
    failure = e;
    if (e.status === 403 || e.status === 404) forget(id);
    update();
  });
  load();
  resyncHooks.add(load);
  const unpin = pin(id);

  function form(name, label, control, buttonText, cls, run) {
    const out = statusLine();
    const btn = h('button', { type: 'submit', class: cls, text: buttonText, 'data-action': name });
    const f = h('form', { class: 'card action no-print', id: `${name}-form`, hidden: true },
      field(label, control), h('div', { class: 'actions' }, btn, out));
    f.addEventListener('submit', (e) => { e.preventDefault(); run(btn, out); });
    return f;
  }
  // Typed text stays in localStorage until the server has it.
  function textForm(name, verb, key, label, buttonText, cls, rows, optional) {
    const store = `consults.${name}.${me.id}.${id}`;
    const input = h(rows ? 'textarea' : 'input', { id: `d-${name}`, name: key, rows, dir: 'auto', maxlength: rows ? null : 500, required: !optional });
    input.value = localStorage.getItem(store) || '';
    input.addEventListener('input', () => (input.value ? localStorage.setItem(store, input.value) : localStorage.removeItem(store)));
    return form(name, label, input, buttonText, cls, async (btn, out) => {
      if (!optional && !input.value.trim()) { out.className = 'form-status error'; out.textContent = S.v.required; input.focus(); return; }
      const r = await action(btn, out, () => api('POST', path(verb), { [key]: input.value }));
      if (r) { input.value = ''; localStorage.removeItem(store); refresh(r); }
    });
  }

  const head = h('div', { class: 'detail-head' });
  const title = h('h2', { id: 'consult-title' });
  const printBtn = button(S.print, () => window.print(), { class: 'push no-print', id: 'print' });
  const notice = h('p', { class: 'notice', hidden: true, text: D.infoPending });
  const facts = h('dl', { class: 'facts' });
  const receipts = h('ul', { class: 'receipts', id: 'receipts' });
  const detailsBox = h('section', { class: 'card', id: 'details', hidden: true });
  const texts = h('div');
  const attachBox = h('section', { class: 'card', id: 'attachments', hidden: true });
  const thread = h('ol', { class: 'thread', id: 'thread' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const offerBox = h('section', { class: 'card action no-print', id: 'offer-box', hidden: true });
  const coordBox = h('section', { class: 'card action no-print', id: 'coord-box', hidden: true });

  const msgForm = textForm('message', 'messages', 'body', role === 'referrer' ? D.reply : D.message, D.send, '', 3);
  const infoForm = textForm('info', 'request-info', 'body', D.askInfo, D.askInfoButton, '', 3);
  const recForm = textForm('complete', 'complete', 'recommendation', D.recommendationLabel, D.complete, 'primary', 8);
  const cancelForm = textForm('cancel', 'cancel', 'reason', S.coord.cancelReason, S.coord.cancel, 'danger', 0, true);
  const forms = [msgForm, infoForm, recForm, cancelForm, offerBox, coordBox];
  const printed = h('p', { class: 'print-only muted' });

  const article = h('article', { id: 'consult-detail', class: 'detail', 'data-consult-id': id },
    head, notice, offerBox, facts, receipts, detailsBox, texts, attachBox,
    h('section', { class: 'card', id: 'thread-box' }, h('h3', { text: D.thread }), thread, msgForm),
    infoForm, recForm, coordBox, cancelForm,
    h('section', { class: 'card' }, h('h3', { text: D.timeline }), timeline), printed);
  root.append(h('a', { href: backPath(me), class: 'back no-print', text: S.back }), article);

  let offerFor_ = '';
  let coordFor = '';
  // Each part is rebuilt only when what it shows changes: a live update then keeps focus,
  // a text selection and the reading position.
  const sigs = new Map();
  const same = (el, v) => { const k = JSON.stringify(v); if (sigs.get(el) === k) return true; sigs.set(el, k); return false; };
  function update() {
    const c = state.consults.get(id);
    if (!c) {
      const gone = failure && (failure.status === 403 || failure.status === 404);
      head.replaceChildren(h('p', { text: failure ? (gone ? S.notFound : errorText(failure)) : S.loading }));
      for (const el of forms) el.hidden = true;
      return;
    }
    article.dataset.status = c.status;
    article.dataset.urgency = c.urgency;
    const mine = c.assignee_id === me.id;
    const myOffer = offerFor(c, me.id);
    if (mine || myOffer) markSeen(id);
    const open = OPEN(c);
    const sla = c.sla || {};
    const awaiting = ['requested', 'offered', 'escalated'].includes(c.status);
    const lang = locale();

    if (!same(title, [c.specialty, specialtyName(c.specialty), c.status, c.urgency, lang])) {
      title.replaceChildren(specialtyName(c.specialty), ' ', badge('status', c.status), ' ', badge('urgency', c.urgency));
    }
    if (!head.contains(title)) head.replaceChildren(h('div', { class: 'row' }, title, printBtn));
    notice.hidden = !(c.status === 'info-requested' && role === 'referrer');
    const fact = (label, ...v) => [h('dt', { text: label }), h('dd', {}, ...v)];
    const raised = c.red_flags?.length && c.requested_urgency && c.requested_urgency !== c.urgency;
    const clinic = clinicName(c.clinic_id);
    const sz = role === 'coordinator' ? snoozedUntil(c) : '';
    wakeAt(`detail-${id}`, [sz]);
    if (!same(facts, [c.patient, c.clinic_id, clinic, c.created_at, open, holderName(c), sla, awaiting, raised, flagReasons(c), c.requested_urgency, c.language, sz, lang])) {
      facts.replaceChildren(...[
        fact(D.patient, patientLine(c.patient), c.patient?.reference ? [' · ', free('span', c.patient.reference)] : null),
        // The clinic's name where this user may read it, else its id, as a code.
        c.clinic_id ? fact(D.clinic, clinic ? free('span', clinic) : h('bdi', { dir: 'ltr', class: 'code', translate: 'no', text: c.clinic_id })) : [],
        fact(D.created, fullDateTime(c.created_at), open ? [' (', since(c.created_at), ')'] : null),
        fact(D.with, h('span', { class: 'holder', text: holderName(c) })),
        sla.accept_by ? fact(D.acceptBy, awaiting ? countdown(sla.accept_by, { breached: sla.breached })
          : h('span', { class: sla.breached ? 'late-text' : '', text: sla.breached ? D.breached : D.met })) : [],
        sla.recommend_by && open ? fact(D.recommendBy, countdown(sla.recommend_by, { breached: sla.recommend_breached })) : [],
        raised ? fact(D.requested, S.urgency[c.requested_urgency] || c.requested_urgency) : [],
        // Each reason in its own direction, the list in the page's.
        c.red_flags?.length ? fact(D.redFlags, h('ul', { class: 'flags', id: 'red-flags' }, flagReasons(c).map((r) => h('li', {}, h('bdi', { text: r }))))) : [],
        c.language ? fact(D.language, languageName(c.language)) : [],
        sz ? fact(S.queue.snoozed, t(S.coord.snoozedUntil, { time: dateTime(sz) })) : [],
      ].flat());
    }

    // Read receipts tell the referring side that the specialist has opened it.
    const rs = (role === 'specialist' ? [] : c.receipts || []).map((r) => [r.user_id, t(D.openedBy, { who: nameOf(r.user_id), time: dateTime(r.at) })]);
    receipts.hidden = !rs.length;
    if (!same(receipts, rs)) receipts.replaceChildren(...rs.map(([u, text]) => h('li', { 'data-user-id': u, text })));

    const form = specialty(c.specialty)?.form || [];
    const details = Object.entries(c.details || {});
    detailsBox.hidden = !details.length;
    if (details.length && !same(detailsBox, [c.details, form.length, lang])) {
      const byKey = Object.fromEntries(form.map((f) => [f.key, f]));
      const ordered = details.sort(([a], [b]) => (form.indexOf(byKey[a]) + 1 || 999) - (form.indexOf(byKey[b]) + 1 || 999));
      detailsBox.replaceChildren(h('h3', { text: D.details }), h('dl', { class: 'facts' }, ordered.flatMap(([k, v]) => [
        h('dt', {}, localized(byKey[k]?.label, k)),
        // Typed text keeps its own direction; numbers, choices and dates are the page's.
        h('dd', { 'data-key': k }, detailValue(byKey[k] || (typeof v === 'string' ? { type: 'text' } : null), v))])));
    }

    const section = (title, text, extra) => h('section', { class: `card ${extra || ''}`, id: extra || null }, h('h3', { text: title }), free('p', text, 'question'));
    if (!same(texts, [c.question, c.summary, c.recommendation, lang])) {
      texts.replaceChildren(...[
        section(D.question, c.question),
        c.summary && section(D.summary, c.summary),
        c.recommendation && section(D.recommendation, c.recommendation, 'recommendation'),
      ].filter(Boolean));
    }

    const files = c.attachments || [];
    attachBox.hidden = !files.length;
    if (!same(attachBox, [files, lang])) {
      attachBox.replaceChildren(h('h3', { text: D.attachments }), h('ul', { class: 'files' }, files.map((a) => h('li', { 'data-attachment-id': a.id },
        h('a', { href: `/api/v1/consults/${enc(id)}/attachments/${enc(a.id)}`, target: '_blank', rel: 'noopener', dir: 'auto', text: a.name || a.id }),
        ' ', h('span', { class: 'muted', text: [String(a.type || '').split('/').pop().toUpperCase(), a.size ? sizeText(a.size) : ''].filter(Boolean).join(' · ') })))));
    }

    const msgs = (c.messages || []).map((m) => ({ ...m, who: nameOf(m.author_id), when: dateTime(m.at) }));
    if (!same(thread, [msgs, lang])) {
      thread.replaceChildren(...(msgs.length ? msgs.map((m) => h('li', { class: `msg ${m.kind === 'info_request' ? 'info-request' : ''} ${m.author_id === me.id ? 'own' : ''}` },
        h('div', { class: 'meta' }, h('strong', { text: m.who }), ' · ', m.when,
          m.kind === 'info_request' ? [' · ', h('span', { class: 'tag', text: D.infoRequest })] : null),
        free('p', m.body, 'body'))) : [empty(D.noMessages)]));
    }

    // The request's reason, when red flags raised the urgency, is the server's English for what
    // the line says already (in the page's language, with the flags).
    const evs = (c.events || []).map((ev) => ({ type: ev.type, when: dateTime(ev.at), words: eventWords(ev, c),
      reason: ev.type === 'consult.requested' && raised ? '' : ev.reason || '' }));
    if (!same(timeline, [evs, raised ? flagReasons(c) : 0])) {
      timeline.replaceChildren(...evs.map((ev) => h('li', { 'data-type': ev.type },
        h('span', { class: 'when', text: ev.when }), ' ', ev.words,
        ev.type === 'consult.requested' && raised ? [' ', free('span', flagReasons(c).join('; '), 'reason')] : null,
        ev.reason ? [' — ', free('span', ev.reason, 'reason')] : null)));
    }

    const offerMine = open && !c.assignee_id && myOffer && !isDismissed(c);
    if (offerMine && offerFor_ !== myOffer.expires_at) offerBox.replaceChildren(h('div', { class: 'row' }, offerClock(c)), ...offerActions(c, false, 'consult-title'));
    offerFor_ = offerMine ? myOffer.expires_at : '';
    offerBox.hidden = !offerMine;
    const working = mine && (c.status === 'accepted' || c.status === 'info-requested');
    msgForm.hidden = !(open && (role === 'referrer' || role === 'coordinator' || mine));
    infoForm.hidden = recForm.hidden = !working;
    cancelForm.hidden = !(open && role === 'referrer');
    coordBox.hidden = !(open && role === 'coordinator');
    const ck = `${c.specialty}|${c.assignee_id}`;
    if (!coordBox.hidden && coordFor !== ck) {
      coordFor = ck;
      coordBox.replaceChildren(h('h3', { text: S.coord.title }), coordActions(id, 'd', () => fetchConsult(id).catch(() => {})));
    }
    printed.textContent = t(D.printed, { time: fullDateTime(new Date()) });
  }
  update();
  return { update, unmount: () => { resyncHooks.delete(load); unpin(); wakeAt(`detail-${id}`, []); } };
}

export function backPath(me) {
  return { specialist: '/inbox', coordinator: '/queue', admin: '/queue' }[me.role] || '/consults';
}
