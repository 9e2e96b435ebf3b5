// The specialist's screens: live offers with a countdown, one-click accept, decline
// with a reason, and the consults this specialist owns. An offer that ends elsewhere
// (another specialist accepted, it expired, it was withdrawn) leaves the screen with
// a short notice.
import { api, enc } from './api.js';
import { strings as S, t } from './i18n.js';
import { h, free, badge, empty, statusLine, countdown, flash, go, button, keyed, showError } from './dom.js';
import { state, merge, forget, fetchConsult, specialtyName, changed, nameLater, offerFor, onFrame, URGENCY_ORDER, OPEN } from './store.js';
import { consultCard, cardSig, patientLine } from './referrer.js';

const O = S.offers;

// Offers answered here (or found gone) stay hidden even if a stale copy still names
// this specialist; keyed per offer, so a new offer of the same consult shows again.
const dismissed = new Set();
const mine = (c) => offerFor(c, state.me.id);
const offerKey = (c) => `${c.id}|${mine(c)?.offered_at || ''}`;
export const isDismissed = (c) => dismissed.has(offerKey(c));

export function liveOffers() {
  const now = Date.now();
  return [...state.consults.values()]
    .filter((c) => OPEN(c) && !c.assignee_id && mine(c) && !isDismissed(c) && !(Date.parse(mine(c).expires_at) <= now))
    .sort((a, b) => URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency] || String(mine(a).expires_at).localeCompare(mine(b).expires_at));
}

// answer accepts or declines an offer; a 409 means someone or something else won.
async function answer(verb, c, body, btn, out) {
  if (!c) return;
  btn.disabled = true;
  out.className = 'form-status';
  out.textContent = S.working;
  const key = offerKey(c);
  answered.add(c.id);
  try {
    merge(await api('POST', `/api/v1/consults/${enc(c.id)}/${verb}`, body));
    out.textContent = '';
    if (verb === 'accept') { flash(O.accepted); go(`/consults/${enc(c.id)}`); return; }
    dismissed.add(key);
    flash(O.declined);
  } catch (e) {
    out.textContent = '';
    if (![403, 404, 409].includes(e.status)) { answered.delete(c.id); showError(out, e); return; }
    dismissed.add(key);
    flash(O.gone, 'warn');
    fetchConsult(c.id).catch((err) => [403, 404].includes(err.status) && forget(c.id));
  } finally {
    btn.disabled = false;
    changed();
  }
}
const answered = new Set(); // consults this page answered: their offers leave without a notice

// markSeen sends the read receipt for a consult this specialist holds or owns, once
// per consult per page load, and only while the page is in view.
const sentSeen = new Set();
export function markSeen(id) {
  const k = `${state.me?.id}|${id}`;
  if (document.hidden || sentSeen.has(k)) return;
  sentSeen.add(k);
  api('POST', `/api/v1/consults/${enc(id)}/seen`).then(merge, (e) => {
    if (![401, 403, 404, 409].includes(e.status)) setTimeout(() => { sentSeen.delete(k); changed(); }, 60000);
  });
}

export const acceptOffer = (c, btn, out) => answer('accept', c, undefined, btn, out);

// offerActions: Accept, and Decline opening a small inline form with common reasons. Both
// buttons are described by the offer's summary (element summaryId): "Accept" alone does not
// say which consult.
export function offerActions(c, details, summaryId) {
  const out = statusLine();
  const id = c.id;
  const accept = button(O.accept, () => acceptOffer(state.consults.get(id), accept, out),
    { class: 'primary accept', 'data-action': 'accept', 'aria-describedby': summaryId });
  const radios = Object.entries(O.reasons).map(([k, label], i) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name: `reason-${id}`, value: k, checked: i === 0 }), ' ', label));
  const text = h('textarea', { id: `decline-text-${id}`, rows: 2, dir: 'auto', maxlength: 500 });
  const confirm = h('button', { type: 'submit', class: 'danger', 'data-action': 'confirm-decline', text: O.confirmDecline });
  const keep = button(O.cancelDecline, () => { box.hidden = true; decline.focus(); }, { class: 'link' });
  const box = h('form', { class: 'decline-box', hidden: true, 'data-consult-id': id },
    h('fieldset', {}, h('legend', { text: O.declineTitle }), radios),
    h('div', { class: 'field' }, h('label', { for: text.id, text: O.declineReason }), text),
    h('div', { class: 'actions' }, confirm, keep));
  box.addEventListener('submit', (e) => {
    e.preventDefault();
    const k = box.querySelector('input[type=radio]:checked')?.value || 'other';
    const reason = [k === 'other' ? '' : O.reasons[k], text.value.trim()].filter(Boolean).join(': ') || O.reasons.other;
    answer('decline', state.consults.get(id), { reason }, confirm, out);
  });
  box.addEventListener('keydown', (e) => { if (e.key === 'Escape') { box.hidden = true; decline.focus(); } });
  const decline = button(O.decline, () => { box.hidden = !box.hidden; if (!box.hidden) box.querySelector('input')?.focus(); },
    { class: 'decline', 'data-action': 'decline', 'aria-expanded': 'false', 'aria-describedby': summaryId });
  new MutationObserver(() => decline.setAttribute('aria-expanded', String(!box.hidden))).observe(box, { attributes: true, attributeFilter: ['hidden'] });
  return [h('div', { class: 'actions' }, accept, decline, details && h('a', { href: `/consults/${enc(id)}`, text: O.details })), box, out];
}

export const offerClock = (c) => h('span', { class: 'push offer-clock' }, O.expiresIn, ' ',
  countdown(mine(c).expires_at, { expired: O.expired, onExpire: changed }));

const offerCard = (c) => h('li', { class: `card offer urgency-${c.urgency}`, 'data-consult-id': c.id },
  h('div', { class: 'row' }, h('span', { class: 'offer-summary', id: `offer-sum-${c.id}` }, badge('urgency', c.urgency), ' ',
    h('strong', { text: specialtyName(c.specialty) }), ' ', h('span', { class: 'muted patient', text: patientLine(c.patient) })), offerClock(c)),
  free('p', c.question, 'question'),
  offerActions(c, true, `offer-sum-${c.id}`));

// What this page showed as live offers, to tell the specialist why one went away.
const shownOffers = new Map(); // consult id -> specialty
function noticeGone(now) {
  for (const [id, spec] of shownOffers) {
    if (now.has(id)) continue;
    shownOffers.delete(id);
    if (answered.has(id)) continue;
    const c = state.consults.get(id);
    const who = c?.assignee_id && c.assignee_id !== state.me.id ? c.assignee_id : '';
    const specialty = specialtyName(spec);
    if (who) nameLater(who).then((name) => flash(t(O.takenBy, { specialty, who: name }), 'warn'));
    else flash(c && OPEN(c) && !mine(c) ? t(O.withdrawn, { specialty }) : t(O.expiredNotice, { specialty }), 'warn');
  }
}
onFrame((f) => {
  // Another specialist took a consult offered to me: the offer ends now.
  if (f.type === 'consult.accepted' && f.consult && state.me?.role === 'specialist') changed();
});

export function inboxView(root) {
  // Not a live region: each card's clock ticks. New offers are announced once (flash).
  const offersEl = h('ul', { id: 'offers', class: 'list' });
  const activeEl = h('ul', { id: 'active', class: 'list' });
  root.append(h('h2', { text: O.title }), offersEl, h('h2', { text: O.active }), activeEl);
  const cards = new Map(); // offer key -> element, reused so typing survives updates
  // An offer card on screen counts as seen.
  const inView = new Set();
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) inView[e.isIntersecting ? 'add' : 'delete'](e.target.dataset.consultId);
    changed();
  });
  let first = true;
  // Frames may not reach a specialist whose offer another took; look again now and then.
  const poll = setInterval(() => {
    for (const c of liveOffers()) fetchConsult(c.id).catch((e) => [403, 404].includes(e.status) && forget(c.id));
  }, 30000);

  function update() {
    const offers = liveOffers();
    const keys = new Set(offers.map(offerKey));
    for (const [k, el] of cards) if (!keys.has(k)) { cards.delete(k); io.unobserve(el); inView.delete(el.dataset.consultId); }
    const els = offers.map((c) => {
      if (inView.has(c.id)) markSeen(c.id);
      let el = cards.get(offerKey(c));
      if (!el) {
        cards.set(offerKey(c), el = offerCard(c));
        io.observe(el);
        if (!first && state.loaded) flash(t(O.newOffer, { urgency: S.urgency[c.urgency] || c.urgency, specialty: specialtyName(c.specialty) }));
      }
      return el;
    });
    if (state.loaded) first = false;
    noticeGone(new Set(offers.map((c) => c.id)));
    for (const c of offers) shownOffers.set(c.id, c.specialty);
    const now = [...offersEl.children];
    if (!els.length) offersEl.replaceChildren(empty(state.loaded ? O.empty : S.loading));
    else if (now.length !== els.length || now.some((el, i) => el !== els[i])) offersEl.replaceChildren(...els);

    const active = [...state.consults.values()]
      .filter((c) => c.assignee_id === state.me.id && (c.status === 'accepted' || c.status === 'info-requested'))
      .sort((a, b) => String(b.updated_at).localeCompare(a.updated_at));
    keyed(activeEl, active, (c) => c.id, cardSig, consultCard, () => empty(O.noActive));
  }
  update();
  return { update, unmount: () => { io.disconnect(); clearInterval(poll); shownOffers.clear(); } };
}
