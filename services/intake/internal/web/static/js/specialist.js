// The specialist's screens: live offers with a countdown, one-click accept or
// decline, and the consults this specialist owns.
import { api, enc } from './api.js';
import { strings as S } from './strings.js';
import { h, free, badge, empty, statusLine, countdown, field, flash, go } from './dom.js';
import { state, merge, forget, fetchConsult, specialtyName, changed, URGENCY_ORDER } from './store.js';
import { consultCard, patientLine } from './referrer.js';

const O = S.offers;

// Offers answered here (or found gone) stay hidden even if a stale copy still names
// this specialist; keyed per offer, so a new offer of the same consult shows again.
const dismissed = new Set();
const offerKey = (c) => `${c.id}|${c.offer?.offered_at || c.offer?.expires_at}`;
export const isDismissed = (c) => dismissed.has(offerKey(c));

export function liveOffers() {
  const now = Date.now();
  return [...state.consults.values()]
    .filter((c) => c.status === 'offered' && c.offer?.specialist_id === state.me.id && !isDismissed(c) && !(Date.parse(c.offer.expires_at) <= now))
    .sort((a, b) => URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency] || String(a.offer.expires_at).localeCompare(b.offer.expires_at));
}

// answer accepts or declines an offer; a 409 means someone or something else won.
async function answer(verb, c, body, button, out) {
  if (!c) return;
  button.disabled = true;
  out.className = 'form-status';
  out.textContent = S.working;
  try {
    merge(await api('POST', `/api/v1/consults/${enc(c.id)}/${verb}`, body));
    out.textContent = '';
    if (verb === 'accept') { flash(O.accepted); go(`/consults/${enc(c.id)}`); return; }
    dismissed.add(offerKey(c));
    flash(O.declined);
  } catch (e) {
    out.textContent = '';
    if (![403, 404, 409].includes(e.status)) { out.className = 'form-status error'; out.textContent = e.message; return; }
    dismissed.add(offerKey(c));
    flash(O.gone, 'warn');
    fetchConsult(c.id).catch((err) => [403, 404].includes(err.status) && forget(c.id));
  } finally {
    button.disabled = false;
    changed();
  }
}
// markSeen sends the read receipt for a consult this specialist holds or owns, once
// per consult per page load, and only while the page is in view. A refusal (offer
// gone, endpoint missing) is quiet; any other failure may try again a minute later.
const sentSeen = new Set();
export function markSeen(id) {
  const k = `${state.me?.id}|${id}`;
  if (document.hidden || sentSeen.has(k)) return;
  sentSeen.add(k);
  api('POST', `/api/v1/consults/${enc(id)}/seen`).then(merge, (e) => {
    if (![401, 403, 404, 409].includes(e.status)) setTimeout(() => { sentSeen.delete(k); changed(); }, 60000);
  });
}

export const acceptOffer = (c, button, out) => answer('accept', c, undefined, button, out);
export const declineOffer = (c, reason, button, out) => answer('decline', c, { reason: reason.trim() }, button, out);

export function offerActions(c, details) {
  const out = statusLine();
  const reason = h('input', { id: `decline-${c.id}`, dir: 'auto', maxlength: 500 });
  const button = (cls, action, text, fn) => h('button', { type: 'button', class: cls, 'data-action': action, text, onclick: fn });
  const accept = button('primary accept', 'accept', O.accept, () => acceptOffer(state.consults.get(c.id), accept, out));
  const confirm = button('danger', 'confirm-decline', O.confirmDecline, () => declineOffer(state.consults.get(c.id), reason.value, confirm, out));
  const box = h('div', { class: 'decline-box', hidden: true }, field(O.declineReason, reason), confirm);
  const decline = button('decline', 'decline', O.decline, () => { box.hidden = !box.hidden; if (!box.hidden) reason.focus(); });
  return [h('div', { class: 'actions' }, accept, decline, details && h('a', { href: `/consults/${enc(c.id)}`, text: O.details })), box, out];
}

export const offerClock = (c) => h('span', { class: 'push' }, O.expiresIn, ' ',
  countdown(c.offer.expires_at, { expired: O.expired, onExpire: changed }));

const offerCard = (c) => h('li', { class: `card offer urgency-${c.urgency}`, 'data-consult-id': c.id },
  h('div', { class: 'row' }, badge('urgency', c.urgency), h('strong', { text: specialtyName(c.specialty) }),
    free('span', patientLine(c.patient), 'muted'), offerClock(c)),
  free('p', c.question, 'question'),
  offerActions(c, true));

export function inboxView(root) {
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

  function update() {
    const offers = liveOffers();
    const keys = new Set(offers.map(offerKey));
    for (const [k, el] of cards) if (!keys.has(k)) { cards.delete(k); io.unobserve(el); inView.delete(el.dataset.consultId); }
    const els = offers.map((c) => {
      if (inView.has(c.id)) markSeen(c.id);
      let el = cards.get(offerKey(c));
      if (!el) { cards.set(offerKey(c), el = offerCard(c)); io.observe(el); }
      return el;
    });
    const now = [...offersEl.children];
    if (!els.length) offersEl.replaceChildren(empty(state.loaded ? O.empty : S.loading));
    else if (now.length !== els.length || now.some((el, i) => el !== els[i])) offersEl.replaceChildren(...els);

    const active = [...state.consults.values()]
      .filter((c) => c.assignee_id === state.me.id && (c.status === 'accepted' || c.status === 'info-requested'))
      .sort((a, b) => String(b.updated_at).localeCompare(a.updated_at));
    activeEl.replaceChildren(...(active.length ? active.map(consultCard) : [empty(O.noActive)]));
  }
  update();
  return { update, unmount: () => io.disconnect() };
}
