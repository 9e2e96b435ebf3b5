// Alerts: a desktop notification and a short tone when an offer for a specialist
// arrives (or is re-sent as a reminder), and for coordinators when a consult is
// escalated or the coordinators are alerted (again every 2 minutes while it waits,
// silent while snoozed). None carries patient details. Browsers allow both only after
// a user gesture, hence the "Enable alerts" button; the choice is kept per user on
// this device.
import { strings as S, t } from './i18n.js';
import { go } from './dom.js';
import { state, changed, onFrame, specialtyName, role } from './store.js';
import { liveOffers } from './specialist.js';
import { alarming, alarms } from './coordinator.js';

const A = S.alerts;
const prefKey = () => `consults.alerts.${state.me?.id}`;
const eligible = () => role() === 'specialist' || role() === 'coordinator';
const enabled = () => eligible() && localStorage.getItem(prefKey()) === '1';
const permission = () => window.Notification?.permission || 'denied';
let audio = null;

// unlock starts the audio output; it works only inside a user gesture.
function unlock() {
  try {
    if (!audio) { audio = new AudioContext(); audio.onstatechange = changed; }
    return audio.resume();
  } catch {
    return Promise.reject();
  }
}
// Once alerts are on, any click or key press on the page unlocks the sound (after a reload too).
for (const type of ['pointerdown', 'keydown']) {
  document.addEventListener(type, (e) => {
    if (enabled() && audio?.state !== 'running' && !e.target.closest?.('#alerts')) unlock().catch(() => {});
  }, true);
}

// tone: short beeps from an oscillator, quiet enough for a ward; an alarm beeps three times.
function tone(alarm) {
  if (audio?.state !== 'running') return;
  const o = audio.createOscillator();
  const g = audio.createGain();
  const at = audio.currentTime;
  const beeps = alarm ? [0, 0.25, 0.5] : [0, 0.2];
  o.frequency.setValueAtTime(alarm ? 660 : 880, at);
  g.gain.setValueAtTime(0.0001, at);
  for (const s of beeps) {
    o.frequency.setValueAtTime(alarm ? 660 + s * 400 : 880 + s * 1475, at + s);
    g.gain.exponentialRampToValueAtTime(0.3, at + s + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, at + s + 0.17);
  }
  o.connect(g).connect(audio.destination);
  o.start(at);
  o.stop(at + beeps.at(-1) + 0.2);
}

// mode is what the button shows: off, locked (on, sound waits for a gesture), on, sound (no notifications).
const mode = () => (!enabled() ? 'off' : window.AudioContext && audio?.state !== 'running' ? 'locked'
  : permission() === 'granted' ? 'on' : 'sound');

async function click(e) {
  const btn = e.currentTarget;
  if (btn.dataset.mode === 'on' || btn.dataset.mode === 'sound') {
    localStorage.setItem(prefKey(), '0');
  } else {
    localStorage.setItem(prefKey(), '1');
    const asked = permission() === 'default' ? Notification.requestPermission().catch(() => {}) : null;
    await unlock().then(() => tone(), () => {});
    await asked;
  }
  changed();
}

// syncButton keeps the header's button (made by the header) in step.
export function syncButton(btn) {
  const m = mode();
  const label = { off: A.enable, locked: A.locked, on: A.on, sound: A.soundOnly }[m];
  if (btn.dataset.mode === m && btn.textContent === label) return;
  btn.dataset.mode = m;
  btn.textContent = label;
  btn.title = m === 'off' ? A.offHint : A.onHint;
  btn.setAttribute('aria-pressed', String(m !== 'off'));
  btn.onclick = click;
}

function notify(title, body, tag, urgent, path) {
  if (permission() !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag, renotify: true, requireInteraction: urgent });
    n.onclick = () => { window.focus(); go(path); n.close(); };
  } catch { /* some browsers (Android) show notifications only from a service worker */ }
}

// Frames are collected briefly: a replay after a reconnect may already carry the
// offer's end, and several reminders of one offer make one alert.
const pending = new Map(); // consult id -> only reminders?
const announced = new Set(); // offer keys alerted as new
let timer = 0;
function flush() {
  timer = 0;
  let any = false;
  let alarm = false;
  if (role() === 'specialist') {
    const live = liveOffers();
    for (const [id, reminder] of pending) {
      const c = live.find((x) => x.id === id);
      const offer = c && (c.offers || [c.offer]).find((o) => o?.specialist_id === state.me.id);
      const key = offer && `${id}|${offer.offered_at}`;
      if (!c || (reminder ? offer.seen_at : announced.has(key))) continue;
      announced.add(key);
      notify(t(reminder ? A.reminder : A.offered, { urgency: (S.urgency[c.urgency] || c.urgency).toLocaleLowerCase(), specialty: specialtyName(c.specialty) }),
        A.body, `offer-${id}`, c.urgency === 'emergent', '/inbox');
      any = true;
    }
  } else {
    for (const id of pending.keys()) {
      const c = state.consults.get(id);
      if (!c || !alarming(c)) continue;
      notify(t(A.escalated, { specialty: specialtyName(c.specialty) }), A.escalatedBody, `alarm-${id}`, true, '/queue');
      any = alarm = true;
    }
  }
  pending.clear();
  if (any) tone(alarm);
}
const ALERTING = {
  specialist: new Set(['consult.offered', 'consult.offer_reminder']),
  coordinator: new Set(['consult.escalated', 'consult.coordinators_alerted']),
};
onFrame((f) => {
  if (!enabled() || !ALERTING[role()]?.has(f.type)) return;
  const id = f.consult_id || f.consult?.id;
  pending.set(id, f.type === 'consult.offer_reminder' && pending.get(id) !== false);
  timer = timer || setTimeout(flush, 300);
});
// An alarm nobody has answered sounds again every 2 minutes (not while snoozed).
setInterval(() => { if (enabled() && role() === 'coordinator' && alarms().length) tone(true); }, 120000);
