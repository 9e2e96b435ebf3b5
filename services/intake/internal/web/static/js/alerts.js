// Specialist alerts: a desktop notification and a short tone when an offer for me
// arrives or is re-sent as a reminder. Neither carries patient details. Browsers
// allow both only after a user gesture, hence the "Enable alerts" button; the
// choice is kept per user on this device.
import { strings as S, t } from './strings.js';
import { go } from './dom.js';
import { state, changed, onFrame, specialtyName } from './store.js';
import { liveOffers } from './specialist.js';

const A = S.alerts;
const prefKey = () => `consults.alerts.${state.me?.id}`;
const enabled = () => state.me?.role === 'specialist' && localStorage.getItem(prefKey()) === '1';
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

// tone: two short beeps from an oscillator, quiet enough for a ward.
function tone() {
  if (audio?.state !== 'running') return;
  const o = audio.createOscillator();
  const g = audio.createGain();
  const at = audio.currentTime;
  o.frequency.setValueAtTime(880, at);
  o.frequency.setValueAtTime(1175, at + 0.2);
  g.gain.setValueAtTime(0.0001, at);
  for (const s of [0, 0.2]) {
    g.gain.exponentialRampToValueAtTime(0.3, at + s + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, at + s + 0.17);
  }
  o.connect(g).connect(audio.destination);
  o.start(at);
  o.stop(at + 0.4);
}

// mode is what the button shows: off, locked (on, sound waits for a gesture), on, sound (no notifications).
const mode = () => (!enabled() ? 'off' : window.AudioContext && audio?.state !== 'running' ? 'locked'
  : permission() === 'granted' ? 'on' : 'sound');
const LABEL = { off: A.enable, locked: A.locked, on: A.on, sound: A.soundOnly };

async function click(e) {
  const btn = e.currentTarget;
  if (btn.dataset.mode === 'on' || btn.dataset.mode === 'sound') {
    localStorage.setItem(prefKey(), '0');
  } else {
    localStorage.setItem(prefKey(), '1');
    const asked = permission() === 'default' ? Notification.requestPermission().catch(() => {}) : null;
    await unlock().then(tone, () => {});
    await asked;
  }
  changed();
}

// syncButton keeps the header's button (made by the header) in step.
export function syncButton(btn) {
  const m = mode();
  if (btn.dataset.mode === m) return;
  btn.dataset.mode = m;
  btn.textContent = LABEL[m];
  btn.title = m === 'off' ? A.offHint : A.onHint;
  btn.setAttribute('aria-pressed', String(m !== 'off'));
  btn.onclick = click;
}

function announce(c, reminder) {
  const title = t(reminder ? A.reminder : A.offered, {
    urgency: (S.urgency[c.urgency] || c.urgency).toLowerCase(), specialty: specialtyName(c.specialty) });
  if (permission() !== 'granted') return;
  try {
    const n = new Notification(title, { body: A.body, tag: `offer-${c.id}`, renotify: true, requireInteraction: c.urgency === 'emergent' });
    n.onclick = () => { window.focus(); go('/inbox'); n.close(); };
  } catch { /* some browsers (Android) show notifications only from a service worker */ }
}

// Frames are collected briefly: a replay after a reconnect may already carry the
// offer's end, and several reminders of one offer make one alert.
const pending = new Map(); // consult id -> only reminders?
const announced = new Set(); // offer keys alerted as new
let timer = 0;
function flush() {
  timer = 0;
  const live = liveOffers();
  let any = false;
  for (const [id, reminder] of pending) {
    const c = live.find((x) => x.id === id);
    const key = c && `${id}|${c.offer.offered_at}`;
    if (!c || (reminder ? c.offer.seen_at : announced.has(key))) continue;
    announced.add(key);
    announce(c, reminder);
    any = true;
  }
  pending.clear();
  if (any) tone();
}
onFrame((f) => {
  if (!enabled() || (f.type !== 'consult.offered' && f.type !== 'consult.offer_reminder')) return;
  const id = f.consult_id || f.consult?.id;
  pending.set(id, f.type === 'consult.offer_reminder' && pending.get(id) !== false);
  timer = timer || setTimeout(flush, 300);
});
