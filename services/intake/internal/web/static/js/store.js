// Client state: the signed-in user and profile, the consults it may see (loaded over
// HTTP at once and kept current by the live stream), display names, specialties.
import { api, enc } from './api.js';
import { strings, localized } from './i18n.js';

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

const touched = new Map(); // id -> time of the last accepted merge

// merge keeps the later copy: stream frames and HTTP answers race, and the copy
// with more events is the later state.
export function merge(c) {
  if (!c || !c.id) return false;
  const old = state.consults.get(c.id);
  if (old) {
    const newer = Array.isArray(c.events) && Array.isArray(old.events)
      ? c.events.length >= old.events.length : String(c.updated_at) >= String(old.updated_at);
    if (!newer) return false;
  }
  state.consults.set(c.id, { ...old, ...c });
  touched.set(c.id, performance.now());
  changed();
  return true;
}

export function forget(id) { if (state.consults.delete(id)) changed(); }

export async function fetchConsult(id) {
  merge(await api('GET', `/api/v1/consults/${enc(id)}`));
  return state.consults.get(id);
}

// reload fetches every consult this user may see and drops those the server no
// longer lists (unless the stream brought them in meanwhile).
let reloading = null;
export function reload() {
  const started = performance.now();
  reloading = reloading || (async () => {
    const seen = new Set();
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const r = await api('GET', `/api/v1/consults?limit=200${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      for (const c of r.consults || []) { seen.add(c.id); merge(c); }
      cursor = r.next_cursor || '';
      if (!cursor) break;
    }
    if (!cursor) {
      for (const id of state.consults.keys()) if (!seen.has(id) && touched.get(id) < started) state.consults.delete(id);
    }
    state.loaded = true;
    changed();
  })().finally(() => { reloading = null; });
  return reloading;
}

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
    sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream${after ? `?after=${after}` : ''}`);
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
    // What changed before the stream opened is fetched again; from here on it arrives as frames.
    reload().catch(() => {});
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
    if (e.code === 4001) { setConn('offline'); sessionEnded(); return; }
    setConn('reconnecting');
    // 4009: `after` is older than the history the server replays. Reload over HTTP,
    // then resume without `after` (whose lists load again once open, closing the gap).
    if (e.code === 4009 && after) {
      sessionStorage.removeItem(seqKey());
      resyncing = true;
      const me = state.me;
      Promise.allSettled([reload(), ...[...resyncHooks].map((fn) => fn())])
        .finally(() => { if (state.me === me && !ws) connect(); });
      return;
    }
    // 1012 (restart), 4008 (too slow) and plain drops resume with `after`, backing off.
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
  sock?.close(1000);
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
}
