// Client state: the signed-in user and profile, the consults it may see (loaded over
// HTTP at once and kept current by the live stream), display names, specialties.
import { api, enc, isMissing } from './api.js';
import { strings, localized } from './i18n.js';
import { CLOSE } from './codes.js';

export const state = { me: null, profile: null, consults: new Map(), specialties: [], conn: 'offline', loaded: false };
export const OPEN = (c) => c.status !== 'completed' && c.status !== 'cancelled';
export const URGENCY_ORDER = { emergent: 0, urgent: 1, routine: 2 };
export const role = () => (state.me?.role === 'admin' ? 'coordinator' : state.me?.role);

// Many changes, one render. (A timer, not requestAnimationFrame: that pauses in
// background tabs, where the title must still count new offers.)
const listeners = new Set();
let scheduled = false;
export const onChange = (fn) => listeners.add(fn);
export function changed() {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => { scheduled = false; for (const fn of listeners) fn(); }, 10);
}

// wakeAt renders again at the earliest future moment among times (ISO strings), so what
// depends on the clock (a snooze ending, a deadline passing) changes on time. One timer per name.
const wakers = new Map();
export function wakeAt(name, times) {
  clearTimeout(wakers.get(name));
  wakers.delete(name);
  const now = Date.now();
  const next = Math.min(...times.map((x) => Date.parse(x)).filter((x) => x > now));
  if (!Number.isFinite(next)) return;
  // A timer's delay is capped; a far-off moment is looked at again within the hour.
  wakers.set(name, setTimeout(() => { wakers.delete(name); changed(); }, Math.min(next - now + 200, 3600000)));
}

const touched = new Map(); // id -> time of the last accepted merge

// merge keeps the later copy: stream frames and HTTP answers race, and the copy
// with more events is the later state.
export function merge(c) {
  if (!c || !c.id) return false;
  const old = state.consults.get(c.id);
  if (old) {
    // Times compare as instants: the server may write fractions of a second or not.
    const at = Date.parse(c.updated_at), was = Date.parse(old.updated_at);
    const newer = Array.isArray(c.events) && Array.isArray(old.events)
      ? c.events.length >= old.events.length : !(at < was);
    if (!newer) return false;
  }
  state.consults.set(c.id, { ...old, ...c });
  touched.set(c.id, performance.now());
  if (state.consults.size > MAX_CONSULTS) trim();
  changed();
  return true;
}

export function forget(id) { if (state.consults.delete(id)) changed(); }

// Memory stays bounded on a wall screen left open for weeks: past MAX_CONSULTS, the closed
// consults touched longest ago go (open ones always stay; a screen showing one pins it).
const MAX_CONSULTS = 1500;
const pinned = new Map(); // id -> pins
export function pin(id) {
  pinned.set(id, (pinned.get(id) || 0) + 1);
  return () => { const n = pinned.get(id) - 1; if (n > 0) pinned.set(id, n); else pinned.delete(id); };
}
function trim() {
  const closed = [...state.consults.values()].filter((c) => !OPEN(c) && !pinned.has(c.id))
    .sort((a, b) => (touched.get(a.id) || 0) - (touched.get(b.id) || 0));
  for (const c of closed.slice(0, state.consults.size - MAX_CONSULTS + 100)) { state.consults.delete(c.id); touched.delete(c.id); }
  if (closedCursor !== null) closedCursor = 'trimmed'; // the next page starts again from the newest
}

export async function fetchConsult(id) {
  merge(await api('GET', `/api/v1/consults/${enc(id)}`));
  return state.consults.get(id);
}

// reload fetches the open consults this user may see (status by status, so a long history
// of closed ones does not delay them) and drops those the server no longer lists as open
// (unless the stream brought them in meanwhile); closed ones load on demand (loadClosed).
export const OPEN_STATUSES = ['escalated', 'requested', 'offered', 'info-requested', 'accepted'];
const CLOSED_STATUSES = ['completed', 'cancelled'];
async function pages(status, max, cursor = '', seen) {
  for (let page = 0; page < max; page++) {
    const r = await api('GET', `/api/v1/consults?status=${status}&limit=200${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    for (const c of r.consults || []) { seen?.add(c.id); merge(c); }
    cursor = r.next_cursor || '';
    if (!cursor) break;
  }
  return cursor;
}
let reloading = null;
export function reload() {
  const started = performance.now();
  reloading = reloading || (async () => {
    const seen = new Set();
    const left = await Promise.all(OPEN_STATUSES.map((s) => pages(s, 10, '', seen)));
    if (left.every((c) => !c)) {
      for (const [id, c] of state.consults) if (OPEN(c) && !seen.has(id) && touched.get(id) < started) state.consults.delete(id);
    }
    state.loaded = true;
    changed();
    // What closed while the stream was away is listed again, if closed ones were asked for.
    if (closedCursor !== null) { closedCursor = null; loadClosed().catch(() => {}); }
  })().finally(() => { reloading = null; });
  return reloading;
}

// loadClosed fetches the next page (50) of closed consults, newest first; closedMore()
// tells whether there are older ones. null: never asked; '': all loaded.
let closedCursor = null;
let closedLoading = null;
const closedCursors = {};
export const closedMore = () => closedCursor !== '';
export function loadClosed() {
  closedLoading = closedLoading || (async () => {
    if (closedCursor === null || closedCursor === 'trimmed') for (const s of CLOSED_STATUSES) closedCursors[s] = '';
    await Promise.all(CLOSED_STATUSES.filter((s) => closedCursors[s] !== undefined).map(async (s) => {
      const r = await api('GET', `/api/v1/consults?status=${s}&limit=50${closedCursors[s] ? `&cursor=${enc(closedCursors[s])}` : ''}`);
      for (const c of r.consults || []) merge(c);
      if (r.next_cursor) closedCursors[s] = r.next_cursor; else delete closedCursors[s];
    }));
    closedCursor = CLOSED_STATUSES.some((s) => closedCursors[s] !== undefined) ? 'more' : '';
    changed();
  })().finally(() => { closedLoading = null; });
  return closedLoading;
}
export const closedLoaded = () => closedCursor !== null;

// nameOf returns a display name now ("…" until it arrives), asking once per id.
const names = new Map();
export const rememberName = (id, name) => id && name && names.set(id, name);
// nameLater resolves to the display name once it is known.
export function nameLater(id) {
  nameOf(id);
  if (names.get(id) !== '…') return Promise.resolve(names.get(id));
  return new Promise((resolve) => { const p = () => (names.get(id) === '…' ? setTimeout(p, 100) : resolve(names.get(id))); p(); });
}
export function nameOf(id) {
  if (!id) return '';
  if (id === 'routing' || id === 'system') return strings.system;
  if (id === state.me?.id) return state.me.name;
  if (!names.has(id)) {
    names.set(id, '…');
    const done = (name) => { names.set(id, name || id); changed(); };
    api('GET', `/api/v1/users/${enc(id)}`).then((r) => done(r.user?.name), () => done(id));
  }
  return names.get(id);
}

// offersOf lists a consult's live offers: `offers` where the server sends it, else `offer`.
export const offersOf = (c) => (Array.isArray(c.offers) ? c.offers : c.status === 'offered' && c.offer ? [c.offer] : []);
export const offerFor = (c, userId) => offersOf(c).find((o) => o.specialist_id === userId) || null;
// Who has it now: the assignee, else whoever holds a live offer.
export const holderIds = (c) => (c.assignee_id ? [c.assignee_id] : offersOf(c).map((o) => o.specialist_id));
export const holderName = (c) => holderIds(c).map(nameOf).join(', ') || strings.form.receiptRouting;

export async function loadSpecialties() {
  if (state.specialties.length) return;
  state.specialties = (await api('GET', '/api/v1/specialties')).specialties || [];
  changed();
}
export const specialty = (slug) => state.specialties.find((s) => s.slug === slug);
export const specialtyName = (slug) => localized(specialty(slug)?.name, slug || '');

// ---- live stream ----
let ws = null;
let retryTimer = 0;
let backoff = 500;
let failures = 0;
let resyncing = false;
let sessionEnded = () => {};
export const setSessionEndedHandler = (fn) => { sessionEnded = fn; };
// Frame listeners see every frame after its consult is merged (notices such as
// roster.changed carry no consult and no seq); resync hooks refetch what a screen
// holds besides the lists (the open consult, the board).
const frameFns = new Set();
export const onFrame = (fn) => { frameFns.add(fn); return () => frameFns.delete(fn); };
export const resyncHooks = new Set();

const seqKey = () => `consults.seq.${state.me?.id}`;
const lastSeq = () => Number(sessionStorage.getItem(seqKey())) || 0;
const setConn = (s) => { if (state.conn !== s) { state.conn = s; changed(); } };

export function connect() {
  clearTimeout(retryTimer);
  if (!state.me || ws) return;
  const after = lastSeq();
  let sock;
  try {
    // notices=1: coordinators also get notice frames (roster.changed); others get none anyway.
    sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream?notices=1${after ? `&after=${after}` : ''}`);
  } catch {
    retryTimer = setTimeout(connect, backoff);
    return;
  }
  ws = sock;
  if (state.conn === 'offline') setConn('reconnecting');
  sock.onopen = () => {
    backoff = 500;
    failures = 0;
    setConn('live');
    // A resume with `after` replays what was missed; otherwise what changed before the
    // stream opened is fetched again. From here on it arrives as frames.
    if (!after || !state.loaded) reload().catch(() => {});
    if (resyncing) { resyncing = false; for (const fn of resyncHooks) fn(); }
  };
  sock.onmessage = (e) => {
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    if (ws !== sock) return;
    // Only events carry seq; notices without one are not part of the resume sequence.
    if (typeof f.seq === 'number' && f.seq > lastSeq()) sessionStorage.setItem(seqKey(), String(f.seq));
    if (f.consult) merge(f.consult);
    for (const fn of frameFns) fn(f);
  };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    ws = null;
    if (e.code === CLOSE.sessionEnded) { setConn('offline'); sessionEnded(); return; }
    setConn('reconnecting');
    // historyGone: `after` is older than the history the server replays. Reload over HTTP,
    // then resume without `after` (whose lists load again once open, closing the gap).
    if (e.code === CLOSE.historyGone && after) {
      sessionStorage.removeItem(seqKey());
      resyncing = true;
      const me = state.me;
      Promise.allSettled([reload(), ...[...resyncHooks].map((fn) => fn())])
        .finally(() => { if (state.me && state.me.id === me?.id && !ws) connect(); });
      return;
    }
    // CLOSE.restart, CLOSE.slow (fell behind) and plain drops resume with `after`, backing off.
    // A refused upgrade looks like any drop; a session check tells an expired login apart.
    if (++failures >= 2) api('GET', '/api/v1/session').catch((err) => err.status === 401 && sessionEnded());
    retryTimer = setTimeout(connect, Math.min(15000, backoff * (0.75 + Math.random() / 2)));
    backoff = Math.min(backoff * 2, 15000);
  };
}

export function disconnect() {
  clearTimeout(retryTimer);
  const sock = ws;
  ws = null;
  sock?.close(CLOSE.normal);
  backoff = 500;
  failures = 0;
  resyncing = false;
  setConn('offline');
}

// A tab coming back into view renders again (read receipts wait for it).
document.addEventListener('visibilitychange', changed);

// Come back at once when the device's network returns; say so when it goes.
window.addEventListener('online', () => { if (state.me && !ws) { backoff = 500; connect(); } });
window.addEventListener('offline', () => { if (state.me) setConn('reconnecting'); });

export function resetState() {
  Object.assign(state, { me: null, profile: null, loaded: false });
  state.consults.clear();
  touched.clear();
  names.clear();
  clinics = null;
  closedCursor = null;
  for (const k of Object.keys(closedCursors)) delete closedCursors[k];
}

// clinicName names a clinic: from the roster where this user may read it (coordinators),
// else '' (the screens then show the clinic's id as a code).
let clinics = null;
export function clinicName(id) {
  if (!id) return '';
  if (!clinics) {
    clinics = new Map();
    if (role() === 'coordinator' && !isMissing('roster')) {
      api('GET', '/api/v1/roster', undefined, undefined, 'roster').then((r) => {
        for (const c of r.roster?.clinics || []) clinics.set(c.id, c.name);
        changed();
      }, () => {});
    }
  }
  return clinics.get(id) || '';
}
