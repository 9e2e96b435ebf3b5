// The clinicians' app: session, profile and language, header and routes; the
// screens live in js/.
import { api, setUnauthenticatedHandler, isMissing } from './js/api.js';
import { strings as S, t, num, setLocale, pick, browserLocale, locale, LOCALES } from './js/i18n.js';
import { h, flash, flashError, errorNodes, announce, go, setRouter, select, closeDialogs } from './js/dom.js';
import { state, onChange, changed, connect, disconnect, resetState, setSessionEndedHandler, loadSpecialties, reload, role } from './js/store.js';
import { newConsultView, myConsultsView, resumeDraft, endDraftSession, hasUnsent, forgetUser } from './js/referrer.js';
import { inboxView, liveOffers } from './js/specialist.js';
import { syncButton } from './js/alerts.js';
import { queueView, boardView, figuresView, alarms } from './js/coordinator.js';
import { detailView } from './js/detail.js';
import { sessionsView } from './js/sessions.js';

const app = document.getElementById('app');
const topbar = document.getElementById('topbar');
let view = null;
let afterLogin = '';

const NAV = {
  referrer: [['/new', 'new'], ['/consults', 'mine', true]],
  specialist: [['/inbox', 'inbox', true]],
  coordinator: [['/queue', 'queue', true], ['/oncall', 'oncall'], ['/figures', 'figures']],
};
// What waits for this user: the tab title and a nav badge count it.
const WAITING = { referrer: ['info-requested'] };
function waiting() {
  if (role() === 'specialist') return liveOffers().length;
  if (role() === 'coordinator') return alarms().length;
  const s = WAITING[role()];
  return s ? [...state.consults.values()].filter((c) => s.includes(c.status)).length : 0;
}
const home = () => (NAV[role()] || [['/consults']])[0][0];
const ROUTES = [
  [/^\/new$/, newConsultView, 'referrer'],
  [/^\/consults$/, myConsultsView, 'referrer'],
  [/^\/consults\/([^/]+)$/, (root, m) => detailView(root, { id: decodeURIComponent(m[1]) })],
  [/^\/inbox$/, inboxView, 'specialist'],
  [/^\/queue$/, queueView, 'coordinator'],
  [/^\/oncall$/, boardView, 'coordinator'],
  [/^\/figures$/, figuresView, 'coordinator'],
  [/^\/sessions$/, sessionsView],
];

// route shows the screen of the address. From the history (popstate), an address that
// differs only in its #fragment is the same screen: nothing is rebuilt.
let shown = '';
function route(e) {
  if (e?.type === 'popstate' && view && location.pathname + location.search === shown) return;
  shown = location.pathname + location.search;
  closeDialogs();
  view?.unmount?.();
  view = null;
  app.replaceChildren();
  const path = location.pathname;
  if (!state.me) {
    if (path !== '/login') afterLogin = path + location.search;
    history.replaceState(null, '', '/login');
    loginView();
  } else if (path === '/' || path === '/login') {
    go(home(), true);
    return;
  } else {
    const r = ROUTES.find(([re, , who]) => re.test(path) && (!who || who === role()));
    // An unknown address, or one of another role's screens, leads home.
    if (!r && path !== home()) { go(home(), true); return; }
    if (r) view = r[1](app, path.match(r[0]));
    app.focus({ preventScroll: true });
  }
  renderHeader();
}

// ---- language ----
const localeKey = (id) => `consults.locale${id ? `.${id}` : ''}`;
// chosenHere is the language the user picked on this page since signing in: it outranks a
// profile answer that arrives after the pick.
let chosenHere = null;
function chooseLocale(l, save) {
  if (save) {
    chosenHere = l;
    try { localStorage.setItem(localeKey(), l); if (state.me) localStorage.setItem(localeKey(state.me.id), l); } catch { /* blocked */ }
    if (state.me && !isMissing('profile')) {
      api('PUT', '/api/v1/me/profile', { locale: l }, undefined, 'profile')
        .then((r) => { state.profile = r?.profile || state.profile; }, () => {});
    }
  }
  if (setLocale(l)) { headerKey = null; route(); changed(); }
}
// The user's language: the profile's, else the one last chosen here, else the user's first, else the browser's.
const userLocale = () => pick(chosenHere, state.profile?.locale, localStorage.getItem(localeKey(state.me?.id)), state.me?.languages || [], browserLocale());

// ---- header ----
let headerKey = null;
let connEl = null;
let connTimer = 0;
let alertEl = null;
let availEl = null;
function renderHeader() {
  const me = state.me;
  const n = me ? waiting() : 0;
  document.title = n ? t(S.titleCount, { n, app: S.appName }) : S.appName;
  topbar.hidden = false;
  // Rebuilt only when what it shows changes, so focus on its controls survives updates; the
  // count of what waits changes in place.
  const key = me ? `${me.id}|${location.pathname}|${locale()}|${isMissing('profile')}|${!!state.profile}` : `-|${locale()}`;
  if (key !== headerKey) {
    const hadFocus = topbar.contains(document.activeElement) ? document.activeElement.id : '';
    headerKey = key;
    const langSel = select({ id: 'locale', class: 'compact' }, LOCALES.map((l) => [l, S.languages[l]]));
    langSel.value = locale();
    langSel.addEventListener('change', () => chooseLocale(langSel.value, true));
    const lang = h('div', { class: 'hfield' }, h('label', { for: 'locale', class: 'sr-only', text: S.language }), langSel);
    connEl = me && h('span', { id: 'conn', class: 'conn', title: S.connection });
    alertEl = me && (role() === 'specialist' || role() === 'coordinator') ? h('button', { id: 'alerts', type: 'button', class: 'alerts' }) : null;
    availEl = null;
    let avail = null;
    if (me?.role === 'specialist' && state.profile && !isMissing('profile')) {
      availEl = select({ id: 'availability', class: `compact avail-${state.profile.availability || 'available'}` },
        ['available', 'busy', 'away'].map((v) => [v, S.availability[v]]));
      availEl.value = state.profile.availability || 'available';
      availEl.addEventListener('change', () => setAvailability(availEl.value));
      avail = h('div', { class: 'hfield' }, h('label', { for: 'availability', text: S.availability.label }), availEl);
    }
    topbar.replaceChildren(
      h('a', { href: '#app', class: 'skip', text: S.skip }),
      h('h1', {}, me ? h('a', { href: home(), text: S.appName }) : S.appName),
      ...(me ? [
        h('nav', { 'aria-label': S.nav.label }, (NAV[role()] || []).map(([href, k, counts]) => h('a', { href, id: `nav-${k}`, 'aria-current': location.pathname === href ? 'page' : null },
          S.nav[k], counts ? h('span', { class: 'count', 'data-count': '', hidden: true }) : null))),
        connEl, avail, alertEl, lang,
        h('span', { id: 'whoami', class: 'whoami' }, h('strong', { text: me.name }), ' · ', S.roles[me.role] || me.role),
        h('a', { href: '/sessions', id: 'nav-sessions', class: 'devices', 'aria-current': location.pathname === '/sessions' ? 'page' : null, text: S.sessions.nav }),
        h('button', { id: 'logout', type: 'button', class: 'link', text: S.logout, onclick: logout }),
      ].filter(Boolean) : [h('span', { class: 'push' }), lang]));
    if (hadFocus) document.getElementById(hadFocus)?.focus();
  }
  for (const el of topbar.querySelectorAll('[data-count]')) {
    const text = n ? num(n) : '';
    if (el.textContent !== text) { el.textContent = text; el.hidden = !n; }
  }
  if (connEl && (connEl.dataset.state !== state.conn || connEl.textContent !== S[state.conn])) {
    // Said once it has lasted a few seconds: a link that flaps is not news every time.
    clearTimeout(connTimer);
    if (connEl.dataset.state && connEl.dataset.state !== state.conn) {
      const now = state.conn;
      connTimer = setTimeout(() => { if (state.conn === now) announce(`${S.connection}: ${S[now]}`); }, 3000);
    }
    connEl.dataset.state = state.conn;
    connEl.className = `conn ${state.conn}`;
    connEl.textContent = S[state.conn];
  }
  if (alertEl) syncButton(alertEl);
}

async function setAvailability(v) {
  try {
    const r = await api('PUT', '/api/v1/me/profile', { availability: v }, undefined, 'profile');
    state.profile = r?.profile || { ...state.profile, availability: v };
    flash(t(S.availability.saved, { value: S.availability[v] }));
  } catch (e) {
    flashError(e);
  }
  headerKey = null;
  changed();
}

function loginView() {
  const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', dir: 'ltr' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, dir: 'ltr' });
  const err = h('p', { id: 'login-error', class: 'form-status error', role: 'alert' });
  const btn = h('button', { id: 'login-submit', type: 'submit', class: 'primary', text: S.login.submit });
  const row = (label, input) => h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input);
  const form = h('form', { id: 'login-form', class: 'card login' }, h('h2', { text: S.login.title }),
    row(S.login.username, user), row(S.login.password, pass), btn, err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      await startSession((await api('POST', '/api/v1/session', { username: user.value.trim(), password: pass.value })).user);
      go(afterLogin || home(), true);
      afterLogin = '';
    } catch (ex) {
      err.replaceChildren(...(ex.status === 401 ? [S.login.wrong] : errorNodes(ex)));
      pass.select();
    } finally {
      btn.disabled = false;
    }
  });
  app.append(form);
  user.focus();
}

async function startSession(user) {
  resetState();
  chosenHere = null;
  state.me = user;
  // The page works from HTTP at once; the stream joins when it can.
  connect();
  reload().catch(() => {});
  loadSpecialties().catch(() => {});
  if (user.role === 'referrer') resumeDraft();
  // The profile decides the language; a slow answer must not hold the page for long.
  const profile = api('GET', '/api/v1/me/profile', undefined, undefined, 'profile').then((r) => { state.profile = r?.profile || null; }, () => {});
  await Promise.race([profile, new Promise((r) => setTimeout(r, 800))]);
  setLocale(userLocale());
  profile.then(() => { if (state.me?.id === user.id && setLocale(userLocale())) { headerKey = null; route(); } headerKey = null; changed(); });
}

// endSession signs out locally; after an expired session, sign-in returns to this page.
function endSession(expired) {
  if (expired === true) afterLogin = location.pathname + location.search;
  disconnect();
  endDraftSession();
  resetState();
  go('/login', true);
}

// logout ends the session and removes what this user typed from the browser: drafts hold patient
// details, and a clinic computer is shared. A consult not yet confirmed is discarded only if the
// user says so. (An expired session keeps the drafts: the same person signs in again.)
async function logout() {
  const id = state.me?.id;
  if (id && hasUnsent(id) && !window.confirm(S.logoutUnsent)) return;
  try { await api('DELETE', '/api/v1/session'); } catch (e) { if (e.status !== 401) { flashError(e); return; } }
  endSession();
  if (id) forgetUser(id);
}

setRouter(route);
setUnauthenticatedHandler(() => state.me && endSession(true));
setSessionEndedHandler(() => state.me && endSession(true));
onChange(() => { view?.update?.(); renderHeader(); });

// In-app links change the route without a page load; a link to a part of this page (the
// skip link) moves the focus there, without a change of address or screen.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || /^\/(api|static)\//.test(url.pathname)) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) {
    const to = document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (!to) return;
    e.preventDefault();
    if (!to.hasAttribute('tabindex')) to.setAttribute('tabindex', '-1');
    to.focus();
    to.scrollIntoView({ block: 'start' });
    return;
  }
  e.preventDefault();
  history.pushState(null, '', url.pathname + url.search);
  route();
});
window.addEventListener('popstate', route);

setLocale(pick(localStorage.getItem(localeKey())) || browserLocale());
api('GET', '/api/v1/session').then((r) => startSession(r.user), (e) => e.status !== 401 && flashError(e))
  .finally(() => { route(); changed(); });
