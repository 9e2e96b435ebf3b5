// One consult: facts, question, thread, timeline, and the actions the signed-in
// role may take on it. Inputs are built once and only shown or hidden, so a live
// update never wipes what someone is typing.
import { api, enc } from './api.js';
import { strings as S, t } from './strings.js';
import { h, free, badge, empty, statusLine, countdown, field, select, setOptions, dateTime, since } from './dom.js';
import { state, merge, forget, fetchConsult, nameOf, holderName, specialtyName, loadSpecialties, rememberName, resyncHooks, OPEN } from './store.js';
import { patientLine } from './referrer.js';
import { offerActions, offerClock, isDismissed, markSeen } from './specialist.js';

const D = S.detail;

async function action(button, out, fn) {
  button.disabled = true;
  out.className = 'form-status';
  out.textContent = S.working;
  try {
    const r = await fn();
    out.textContent = D.done;
    return r ?? true;
  } catch (e) {
    out.className = 'form-status error';
    out.textContent = e.message;
    return null;
  } finally {
    button.disabled = false;
  }
}

export function detailView(root, { id }) {
  const me = state.me;
  const path = (verb) => `/api/v1/consults/${enc(id)}/${verb}`;
  const refresh = (r) => { merge(r); fetchConsult(id).catch(() => {}); };
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
    const btn = h('button', { type: 'submit', class: cls, text: buttonText });
    const f = h('form', { class: 'card action', id: `${name}-form`, hidden: true },
      field(label, control), h('div', { class: 'actions' }, btn, out));
    f.addEventListener('submit', (e) => { e.preventDefault(); run(btn, out); });
    return f;
  }
  // Typed text stays in localStorage until the server has it.
  function textForm(name, verb, key, label, buttonText, cls, rows) {
    const store = `consults.${name}.${me.id}.${id}`;
    const input = h(rows ? 'textarea' : 'input', { id: `d-${name}`, rows, dir: 'auto', maxlength: rows ? null : 500, required: true });
    input.value = localStorage.getItem(store) || '';
    input.addEventListener('input', () => (input.value ? localStorage.setItem(store, input.value) : localStorage.removeItem(store)));
    return form(name, label, input, buttonText, cls, async (btn, out) => {
      const r = await action(btn, out, () => api('POST', path(verb), { [key]: input.value }));
      if (r) { input.value = ''; localStorage.removeItem(store); refresh(r); }
    });
  }

  const head = h('div', { class: 'detail-head' });
  const notice = h('p', { class: 'notice', hidden: true, text: D.infoPending });
  const facts = h('dl', { class: 'facts' });
  const receipts = h('ul', { class: 'receipts', id: 'receipts' });
  const texts = h('div');
  const thread = h('ol', { class: 'thread', id: 'thread' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });

  const offerBox = h('section', { class: 'card action', id: 'offer-box', hidden: true });

  const msgForm = textForm('message', 'messages', 'body', D.message, D.send, '', 3);
  const infoForm = textForm('info', 'request-info', 'body', D.askInfo, D.askInfoButton, '', 3);
  const recForm = textForm('complete', 'complete', 'recommendation', D.recommendationLabel, D.complete, 'primary', 8);
  const cancelForm = textForm('cancel', 'cancel', 'reason', D.cancelReason, D.cancel, 'danger');
  const assignSel = select({ id: 'd-assign', required: true }, [], S.choose);
  const assignForm = form('assign', D.assignTo, assignSel, D.assign, '', async (btn, out) => {
    const r = await action(btn, out, () => api('POST', path('assign'), { specialist_id: assignSel.value }));
    if (r) refresh(r);
  });
  const forms = [offerBox, msgForm, infoForm, recForm, assignForm, cancelForm];

  const article = h('article', { class: 'detail', id: 'consult-detail', 'data-consult-id': id },
    head, notice, facts, receipts, texts, offerBox,
    h('section', { class: 'card' }, h('h3', { text: D.thread }), thread),
    msgForm, infoForm, recForm, assignForm, cancelForm,
    h('section', { class: 'card' }, h('h3', { text: D.timeline }), timeline));
  root.append(h('a', { href: backPath(me), class: 'back', text: S.back }), article);

  let specialistsFor = '';
  async function loadSpecialists(slug) {
    specialistsFor = slug;
    const list = (await api('GET', `/api/v1/specialists?specialty=${enc(slug)}`)).specialists || [];
    for (const s of list) rememberName(s.id, s.name);
    setOptions(assignSel, list.map((s) => [s.id, s.languages?.length ? `${s.name} (${s.languages.join(', ')})` : s.name]),
      list.length ? S.choose : D.noSpecialists);
  }

  let offerFor = '';
  function update() {
    const c = state.consults.get(id);
    if (!c) {
      const gone = failure && (failure.status === 403 || failure.status === 404);
      head.replaceChildren(h('p', { text: failure ? (gone ? S.notFound : failure.message) : S.loading }));
      for (const el of forms) el.hidden = true;
      return;
    }
    article.dataset.status = c.status;
    const role = me.role === 'admin' ? 'coordinator' : me.role;
    const mine = c.assignee_id === me.id;
    if (mine || (c.status === 'offered' && c.offer?.specialist_id === me.id)) markSeen(id);
    const open = OPEN(c);
    const sla = c.sla || {};
    const awaiting = ['requested', 'offered', 'escalated'].includes(c.status);

    head.replaceChildren(h('h2', {}, specialtyName(c.specialty), ' ', badge('status', c.status), ' ', badge('urgency', c.urgency)));
    notice.hidden = !(c.status === 'info-requested' && role === 'referrer');
    const fact = (label, ...v) => [h('dt', { text: label }), h('dd', {}, ...v)];
    facts.replaceChildren(...[
      fact(D.patient, free('span', patientLine(c.patient))),
      fact(D.clinic, c.clinic_id || ''),
      fact(D.created, dateTime(c.created_at), ' (', since(c.created_at), ')'),
      fact(D.with, h('span', { class: 'holder', text: holderName(c) })),
      sla.accept_by ? fact(D.acceptBy, awaiting ? countdown(sla.accept_by, { breached: sla.breached })
        : sla.breached ? S.queue.breached : S.queue.met) : [],
    ].flat());

    // Read receipts tell the referring side that the specialist has opened it.
    const rs = role === 'specialist' ? [] : c.receipts || [];
    receipts.hidden = !rs.length;
    receipts.replaceChildren(...rs.map((r) => h('li', { 'data-user-id': r.user_id, text: t(D.openedBy, { who: nameOf(r.user_id), time: dateTime(r.at) }) })));

    const section = (title, text, extra) => h('section', { class: `card ${extra || ''}`, id: extra }, h('h3', { text: title }), free('p', text, 'question'));
    texts.replaceChildren(...[
      section(D.question, c.question),
      c.summary && section(D.summary, c.summary),
      c.recommendation && section(D.recommendation, c.recommendation, 'recommendation'),
    ].filter(Boolean));

    const msgs = c.messages || [];
    thread.replaceChildren(...(msgs.length ? msgs.map((m) => h('li', { class: `msg ${m.kind === 'info_request' ? 'info-request' : ''} ${m.author_id === me.id ? 'own' : ''}` },
      h('div', { class: 'meta' }, h('strong', { text: nameOf(m.author_id) }), ' · ', dateTime(m.at),
        m.kind === 'info_request' ? [' · ', h('span', { class: 'tag', text: D.infoRequest })] : null),
      free('p', m.body, 'body'))) : [empty(D.noMessages)]));

    timeline.replaceChildren(...(c.events || []).map((ev) => {
      const tpl = S.events[ev.type] || ev.type;
      // "routing" is the service itself, not a person with a name.
      const person = ev.actor_id !== 'routing' && ev.actor_id;
      return h('li', { 'data-type': ev.type },
        h('span', { class: 'when', text: dateTime(ev.at) }), ' ',
        t(tpl, { who: nameOf(ev.specialist_id || person), actor: nameOf(person) }),
        person && !tpl.includes('{') ? h('span', { class: 'muted', text: ` ${t(S.eventBy, { actor: nameOf(person) })}` }) : null,
        ev.reason ? free('span', ` — ${ev.reason}`, 'muted') : null);
    }));

    const offerMine = c.status === 'offered' && c.offer?.specialist_id === me.id && !isDismissed(c);
    if (offerMine && offerFor !== c.offer.expires_at) offerBox.replaceChildren(h('div', { class: 'row' }, offerClock(c)), ...offerActions(c));
    offerFor = offerMine ? c.offer.expires_at : '';
    offerBox.hidden = !offerMine;
    const working = mine && (c.status === 'accepted' || c.status === 'info-requested');
    msgForm.hidden = !(open && (role === 'referrer' || role === 'coordinator' || mine));
    infoForm.hidden = recForm.hidden = !working;
    assignForm.hidden = !(open && role === 'coordinator');
    cancelForm.hidden = !(open && (role === 'referrer' || role === 'coordinator'));
    if (!assignForm.hidden && specialistsFor !== c.specialty) loadSpecialists(c.specialty).catch(() => {});
  }
  update();
  return { update, unmount: () => resyncHooks.delete(load) };
}

export function backPath(me) {
  return { specialist: '/inbox', coordinator: '/queue', admin: '/queue' }[me.role] || '/consults';
}
