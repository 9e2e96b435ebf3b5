// One consult: facts, clinical details, question, attachments, thread, timeline, and
// the actions the signed-in role may take on it. Inputs are built once and only shown
// or hidden, so a live update never wipes what someone is typing. Prints cleanly.
import { api, enc } from './api.js';
import { strings as S, t, num, dateTime, fullDateTime, localized } from './i18n.js';
import { h, free, badge, empty, statusLine, countdown, field, since, button } from './dom.js';
import { state, merge, forget, fetchConsult, nameOf, holderName, specialtyName, specialty, loadSpecialties, resyncHooks, offerFor, role as roleOf, OPEN } from './store.js';
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
    out.className = 'form-status error';
    out.textContent = e.missing ? S.unavailableFeature : e.message;
    return null;
  } finally {
    btn.disabled = false;
  }
}

// detailValue shows one answer of the specialty form in words.
function detailValue(f, v) {
  if (typeof v === 'boolean') return v ? S.yes : S.no;
  if (f?.type === 'select') return localized(f.options?.find((o) => String(o.value) === String(v))?.label, String(v));
  if (typeof v === 'number') return num(v) + (f?.unit ? ` ${f.unit}` : '');
  return String(v ?? '');
}

// eventWords describes one timeline event.
function eventWords(ev, c) {
  const person = ev.actor_id !== 'routing' && ev.actor_id;
  const tpl = S.events[ev.type] || t(S.events.other, { type: ev.type });
  const words = [t(tpl, { who: nameOf(ev.specialist_id || person) || S.system, actor: nameOf(person) || S.system })];
  if (ev.urgency) words.push(`→ ${S.urgency[ev.urgency] || ev.urgency}`);
  if (ev.specialty) words.push(`→ ${specialtyName(ev.specialty)}`);
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
  const title = h('h2');
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
  function update() {
    const c = state.consults.get(id);
    if (!c) {
      const gone = failure && (failure.status === 403 || failure.status === 404);
      head.replaceChildren(h('p', { text: failure ? (gone ? S.notFound : failure.message) : S.loading }));
      for (const el of forms) el.hidden = true;
      return;
    }
    article.dataset.status = c.status;
    const mine = c.assignee_id === me.id;
    const myOffer = offerFor(c, me.id);
    if (mine || myOffer) markSeen(id);
    const open = OPEN(c);
    const sla = c.sla || {};
    const awaiting = ['requested', 'offered', 'escalated'].includes(c.status);

    title.replaceChildren(specialtyName(c.specialty), ' ', badge('status', c.status), ' ', badge('urgency', c.urgency));
    if (!head.contains(title)) head.replaceChildren(h('div', { class: 'row' }, title, printBtn));
    notice.hidden = !(c.status === 'info-requested' && role === 'referrer');
    const fact = (label, ...v) => [h('dt', { text: label }), h('dd', {}, ...v)];
    const raised = c.red_flags?.length && c.requested_urgency && c.requested_urgency !== c.urgency;
    facts.replaceChildren(...[
      fact(D.patient, patientLine(c.patient), c.patient?.reference ? [' · ', free('span', c.patient.reference)] : null),
      fact(D.clinic, c.clinic_id || ''),
      fact(D.created, fullDateTime(c.created_at), open ? [' (', since(c.created_at), ')'] : null),
      fact(D.with, h('span', { class: 'holder', text: holderName(c) })),
      sla.accept_by ? fact(D.acceptBy, awaiting ? countdown(sla.accept_by, { breached: sla.breached })
        : h('span', { class: sla.breached ? 'late-text' : '', text: sla.breached ? D.breached : D.met })) : [],
      sla.recommend_by && open ? fact(D.recommendBy, countdown(sla.recommend_by, { breached: sla.recommend_breached })) : [],
      raised ? fact(D.requested, S.urgency[c.requested_urgency] || c.requested_urgency) : [],
      c.red_flags?.length ? fact(D.redFlags, h('ul', { class: 'flags', id: 'red-flags' }, c.red_flags.map((r) => free('li', r)))) : [],
      snoozedUntil(c) && role === 'coordinator' ? fact(S.queue.snoozed, t(S.coord.snoozedUntil, { time: dateTime(snoozedUntil(c)) })) : [],
    ].flat());

    // Read receipts tell the referring side that the specialist has opened it.
    const rs = role === 'specialist' ? [] : c.receipts || [];
    receipts.hidden = !rs.length;
    receipts.replaceChildren(...rs.map((r) => h('li', { 'data-user-id': r.user_id, text: t(D.openedBy, { who: nameOf(r.user_id), time: dateTime(r.at) }) })));

    const form = specialty(c.specialty)?.form || [];
    const details = Object.entries(c.details || {});
    detailsBox.hidden = !details.length;
    if (details.length) {
      const byKey = Object.fromEntries(form.map((f) => [f.key, f]));
      const ordered = details.sort(([a], [b]) => (form.indexOf(byKey[a]) + 1 || 999) - (form.indexOf(byKey[b]) + 1 || 999));
      detailsBox.replaceChildren(h('h3', { text: D.details }), h('dl', { class: 'facts' }, ordered.flatMap(([k, v]) => [
        h('dt', { text: localized(byKey[k]?.label, k) }),
        // Typed text keeps its own direction; numbers, choices and dates are the page's.
        h('dd', { 'data-key': k }, typeof v === 'string' && !['select', 'date'].includes(byKey[k]?.type) ? free('span', v) : detailValue(byKey[k], v))])));
    }

    const section = (title, text, extra) => h('section', { class: `card ${extra || ''}`, id: extra || null }, h('h3', { text: title }), free('p', text, 'question'));
    texts.replaceChildren(...[
      section(D.question, c.question),
      c.summary && section(D.summary, c.summary),
      c.recommendation && section(D.recommendation, c.recommendation, 'recommendation'),
    ].filter(Boolean));

    const files = c.attachments || [];
    attachBox.hidden = !files.length;
    const filesSig = JSON.stringify(files) + S.appName;
    if (attachBox.dataset.sig !== filesSig) attachBox.dataset.sig = filesSig, attachBox.replaceChildren(h('h3', { text: D.attachments }), h('ul', { class: 'files' }, files.map((a) => h('li', { 'data-attachment-id': a.id },
      h('a', { href: `/api/v1/consults/${enc(id)}/attachments/${enc(a.id)}`, target: '_blank', rel: 'noopener', dir: 'auto', text: a.name || a.id }),
      ' ', h('span', { class: 'muted', text: [String(a.type || '').split('/').pop().toUpperCase(), a.size ? sizeText(a.size) : ''].filter(Boolean).join(' · ') })))));

    const msgs = c.messages || [];
    thread.replaceChildren(...(msgs.length ? msgs.map((m) => h('li', { class: `msg ${m.kind === 'info_request' ? 'info-request' : ''} ${m.author_id === me.id ? 'own' : ''}` },
      h('div', { class: 'meta' }, h('strong', { text: nameOf(m.author_id) }), ' · ', dateTime(m.at),
        m.kind === 'info_request' ? [' · ', h('span', { class: 'tag', text: D.infoRequest })] : null),
      free('p', m.body, 'body'))) : [empty(D.noMessages)]));

    timeline.replaceChildren(...(c.events || []).map((ev) => h('li', { 'data-type': ev.type },
      h('span', { class: 'when', text: dateTime(ev.at) }), ' ', eventWords(ev, c),
      ev.type === 'consult.requested' && raised ? free('span', ` ${c.red_flags.join('; ')}`, 'reason') : null,
      ev.reason ? [' — ', free('span', ev.reason, 'reason')] : null)));

    const offerMine = open && !c.assignee_id && myOffer && !isDismissed(c);
    if (offerMine && offerFor_ !== myOffer.expires_at) offerBox.replaceChildren(h('div', { class: 'row' }, offerClock(c)), ...offerActions(c));
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
  return { update, unmount: () => resyncHooks.delete(load) };
}

export function backPath(me) {
  return { specialist: '/inbox', coordinator: '/queue', admin: '/queue' }[me.role] || '/consults';
}
