// The clinicians' app: session, header and routes; the screens live in js/.
import { api, setUnauthenticatedHandler } from './js/api.js';
import { strings as S, t } from './js/strings.js';
import { h, flash, go, setRouter } from './js/dom.js';
import { state, onChange, changed, connect, disconnect, resetState, setSessionEndedHandler, loadSpecialties } from './js/store.js';
import { newConsultView, myConsultsView, resumeDraft } from './js/referrer.js';
import { inboxView, liveOffers } from './js/specialist.js';
import { syncButton } from './js/alerts.js';
import { queueView } from './js/coordinator.js';
import { detailView } from './js/detail.js';

const app = document.getElementById('app');
const topbar = document.getElementById('topbar');
let view = null;
let afterLogin = '';

const role = () => (state.me?.role === 'admin' ? 'coordinator' : state.me?.role);
const NAV = {
  referrer: [['/new', S.nav.new], ['/consults', S.nav.mine, true]],
  specialist: [['/inbox', S.nav.inbox, true]],
  coordinator: [['/queue', S.nav.queue, true]],
};
// What waits for this user: the tab title and a nav badge count it.
const WAITING = { referrer: ['info-requested'], coordinator: ['requested', 'offered', 'escalated'] };
function waiting() {
  if (role() === 'specialist') return liveOffers().length;
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
];

function route() {
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

let headerKey = null;
let connEl = null;
let alertEl = null;
function renderHeader() {
  const me = state.me;
  const n = me ? waiting() : 0;
  document.title = n ? t(S.titleCount, { n, app: S.appName }) : S.appName;
  topbar.hidden = false;
  // Rebuilt only when what it shows changes, so focus on its controls survives updates.
  const key = me ? `${me.id}|${location.pathname}|${n}` : '';
  if (key !== headerKey) {
    headerKey = key;
    connEl = me && h('span', { id: 'conn', class: 'conn', role: 'status', title: S.connection });
    alertEl = me?.role !== 'specialist' ? null : h('button', { id: 'alerts', type: 'button', class: 'alerts' });
    topbar.replaceChildren(h('h1', {}, me ? h('a', { href: home(), text: S.appName }) : S.appName), ...(me ? [
      h('nav', { 'aria-label': S.nav.label }, (NAV[role()] || []).map(([href, label, counts]) => h('a', { href, 'aria-current': location.pathname === href ? 'page' : null },
        label, counts && n ? h('span', { class: 'count', text: n }) : null))),
      ...[connEl, alertEl].filter(Boolean),
      h('span', { id: 'whoami', class: 'whoami' }, h('strong', { text: me.name }), ' · ', S.roles[me.role] || me.role),
      h('button', { id: 'logout', type: 'button', class: 'link', text: S.logout, onclick: logout }),
    ] : []));
  }
  if (connEl && connEl.dataset.state !== state.conn) {
    connEl.dataset.state = state.conn;
    connEl.className = `conn ${state.conn}`;
    connEl.textContent = S[state.conn];
  }
  if (alertEl) syncButton(alertEl);
}

function loginView() {
  const user = h('input', { id: 'login-username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
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
      startSession((await api('POST', '/api/v1/session', { username: user.value.trim(), password: pass.value })).user);
      go(afterLogin || home(), true);
      afterLogin = '';
    } catch (ex) {
      err.textContent = ex.message || S.login.failed;
      pass.select();
    } finally {
      btn.disabled = false;
    }
  });
  app.append(form);
  user.focus();
}

function startSession(user) {
  resetState();
  state.me = user;
  connect();
  loadSpecialties().catch(() => {});
  if (user.role === 'referrer') resumeDraft();
}

// endSession signs out locally; after an expired session, sign-in returns to this page.
function endSession(expired) {
  if (expired === true) afterLogin = location.pathname + location.search;
  disconnect();
  resetState();
  go('/login', true);
}

async function logout() {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { if (e.status !== 401) { flash(e.message, 'error'); return; } }
  endSession();
}

setRouter(route);
setUnauthenticatedHandler(() => state.me && endSession(true));
setSessionEndedHandler(() => state.me && endSession(true));
onChange(() => { view?.update?.(); renderHeader(); });

// In-app links change the route without a page load.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || /^\/(api|static)\//.test(url.pathname)) return;
  e.preventDefault();
  history.pushState(null, '', url.pathname + url.search);
  route();
});
window.addEventListener('popstate', route);

api('GET', '/api/v1/session').then((r) => startSession(r.user), (e) => e.status !== 401 && flash(e.message, 'error'))
  .finally(() => { route(); changed(); });
