// Signed-in devices, for every role: the user's live sessions (this one marked), each with
// when it signed in and was last used, its browser and system, and its network; any other one
// can be signed out, or all others at once. Ending a session closes it everywhere at once.
import { api, enc } from './api.js';
import { strings as S, t, num, fullDateTime, dateTime } from './i18n.js';
import { h, flash, flashError, errorNodes, button, statusLine } from './dom.js';

// fill puts nodes into a template's {placeholders}, so that names written left to right (a
// browser, a system) stay isolated inside Arabic and Hebrew sentences.
function fill(template, nodes) {
  return String(template).split(/(\{\w+\})/).filter(Boolean).map((part) => {
    const m = /^\{(\w+)\}$/.exec(part);
    return m && m[1] in nodes ? nodes[m[1]] : part;
  });
}

const ltr = (text) => h('bdi', { dir: 'ltr', text });
// device names a session's client: "Firefox on Linux", or what is known of it.
const device = (s) => fill(S.sessions.on, {
  browser: s.browser ? ltr(s.browser) : S.sessions.unknownBrowser,
  os: s.os ? ltr(s.os) : S.sessions.unknownOS,
});
const deviceText = (s) => h('span', {}, device(s)).textContent;

export function sessionsView(root) {
  const V = S.sessions;
  const out = statusLine();
  const others = button(V.signOutOthers, endOthers, { id: 'sessions-end-others', class: 'danger' });
  const list = h('ul', { id: 'sessions', class: 'list sessions', 'aria-busy': 'true' }, h('li', { class: 'muted', text: S.loading }));
  const title = h('h2', { id: 'sessions-title', tabindex: '-1', text: V.title });
  root.append(h('div', { id: 'sessions-view' },
    title, h('p', { class: 'muted', text: V.intro }),
    h('div', { class: 'actions' }, others), out, list));
  let data = null;
  let busy = false;

  async function load() {
    try {
      const r = await api('GET', '/api/v1/me/sessions', undefined, undefined, 'sessions');
      data = r?.sessions || [];
      out.replaceChildren();
    } catch (e) {
      if (e.status === 401) return;
      out.className = 'form-status error';
      out.replaceChildren(...errorNodes(e));
      data = data || [];
    }
    render();
  }

  function render() {
    list.removeAttribute('aria-busy');
    const rest = data.filter((s) => !s.current);
    others.disabled = busy || !rest.length;
    list.replaceChildren(...data.map((s) => h('li', { class: `card session${s.current ? ' current' : ''}`, 'data-session-id': s.id },
      h('div', { class: 'session-head' },
        h('strong', { class: 'session-device' }, device(s)),
        s.current ? h('span', { class: 'badge session-here', text: V.thisDevice }) : null),
      h('dl', { class: 'facts session-facts' },
        h('dt', { text: V.signedIn }), h('dd', {}, h('time', { datetime: s.created_at, text: fullDateTime(s.created_at) })),
        h('dt', { text: V.lastActive }), h('dd', {}, h('time', { datetime: s.last_active_at, text: dateTime(s.last_active_at) })),
        s.network ? [h('dt', { text: V.network }), h('dd', {}, h('bdi', { dir: 'ltr', class: 'code', text: s.network }))] : null),
      s.current ? null : button(V.signOut, () => end(s), {
        class: 'small danger', 'data-action': 'end', disabled: busy, 'aria-label': t(V.signOutThis, { device: deviceText(s) }),
      }))));
    if (!rest.length) list.append(h('li', { class: 'empty', id: 'sessions-none', text: V.noOthers }));
  }

  // act runs one sign-out, then shows the list as it now is; the focus goes to the heading,
  // since the row that held it is gone. A session already ended elsewhere simply disappears.
  async function act(fn) {
    if (busy) return;
    busy = true;
    render();
    try {
      await fn();
    } catch (e) {
      if (e.status !== 404) flashError(e);
    } finally {
      busy = false;
    }
    await load();
    title.focus();
  }
  function end(s) {
    return act(async () => {
      await api('DELETE', `/api/v1/me/sessions/${enc(s.id)}`, undefined, undefined, 'sessions');
      flash(t(V.signedOut, { device: deviceText(s) }));
    });
  }
  function endOthers() {
    return act(async () => {
      const r = await api('DELETE', '/api/v1/me/sessions', undefined, undefined, 'sessions');
      flash(t(V.signedOutOthers, { n: num(r?.ended ?? 0) }));
    });
  }

  load();
  return { update() {}, unmount() {} };
}
