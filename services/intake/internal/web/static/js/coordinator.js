// The coordinator's queue: every open consult, live, with waiting time and the
// acceptance deadline, escalations first; and who is on call now.
import { api, enc } from './api.js';
import { strings as S, t } from './strings.js';
import { h, free, badge, empty, countdown, since, select, setOptions, hhmm, go } from './dom.js';
import { state, nameOf, holderId, specialtyName, loadSpecialties, OPEN, URGENCY_ORDER } from './store.js';

const Q = S.queue;
const awaiting = (c) => ['requested', 'offered', 'escalated'].includes(c.status);
const late = (c) => !!c.sla && (c.sla.breached || (awaiting(c) && Date.parse(c.sla.accept_by) <= Date.now()));
const order = (a, b) => (b.status === 'escalated') - (a.status === 'escalated')
  || URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency]
  || String(a.sla?.accept_by || a.created_at).localeCompare(b.sla?.accept_by || b.created_at);

export function queueView(root) {
  loadSpecialties().catch(() => {});
  const f = {
    status: select({ id: 'q-status' }, Object.entries(S.status).filter(([s]) => OPEN({ status: s })), Q.allOpen),
    specialty: select({ id: 'q-specialty' }, [], Q.all),
    urgency: select({ id: 'q-urgency' }, Object.entries(S.urgency), Q.all),
  };
  const filters = h('form', { class: 'filters', role: 'search' }, Object.entries(f).map(([k, el]) => h('label', {}, Q[k], el)));
  filters.addEventListener('change', () => update());

  const summary = h('p', { class: 'muted', id: 'queue-summary' });
  const cols = ['status', 'urgency', 'specialty', 'clinic', 'question', 'waiting', 'sla', 'with'];
  const tbody = h('tbody');
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-consult-id]');
    if (tr && !e.target.closest('a')) go(`/consults/${enc(tr.dataset.consultId)}`);
  });
  const oncallList = h('ul', { class: 'oncall-list' });
  root.append(h('div', { class: 'queue-layout' },
    h('section', {}, h('h2', { text: Q.title }), filters, summary,
      h('div', { class: 'table-wrap' }, h('table', { id: 'queue', class: 'queue' },
        h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col', text: Q[k] })))), tbody))),
    h('aside', { id: 'oncall', class: 'card' }, h('h2', { text: Q.oncall }), oncallList)));

  let oncall = null;
  const loadOncall = () => api('GET', '/api/v1/oncall').then((r) => { oncall = r.oncall || []; update(); }, () => {});
  loadOncall();
  const timer = setInterval(loadOncall, 60000);

  const cell = (k, ...kids) => h('td', { 'data-label': Q[k] }, ...kids);
  function update() {
    if (f.specialty.options.length <= 1 && state.specialties.length) {
      setOptions(f.specialty, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), Q.all);
    }
    const open = [...state.consults.values()].filter(OPEN);
    const shown = open.filter((c) => Object.entries(f).every(([k, el]) => !el.value || c[k] === el.value)).sort(order);
    summary.textContent = t(Q.summary, { open: open.length, escalated: open.filter((c) => c.status === 'escalated').length, breached: open.filter(late).length });
    tbody.replaceChildren(...(shown.length ? shown.map((c) => {
      const who = holderId(c);
      const sla = c.sla || {};
      return h('tr', { 'data-consult-id': c.id, class: c.status === 'escalated' ? 'escalated' : null },
        cell('status', h('a', { href: `/consults/${enc(c.id)}` }, badge('status', c.status))),
        cell('urgency', badge('urgency', c.urgency)),
        cell('specialty', specialtyName(c.specialty)),
        cell('clinic', c.clinic_id || ''),
        cell('question', free('span', c.question, 'clamp1')),
        cell('waiting', since(c.created_at)),
        cell('sla', !sla.accept_by ? '' : awaiting(c) ? countdown(sla.accept_by, { breached: sla.breached })
          : h('span', { class: sla.breached ? 'late-text' : null, text: sla.breached ? Q.breached : Q.met })),
        cell('with', who ? nameOf(who) : '—'));
    }) : [h('tr', {}, h('td', { colspan: cols.length, class: 'empty', text: state.loaded ? Q.empty : S.loading }))]));

    if (oncall) {
      oncallList.replaceChildren(...(oncall.length ? oncall.map((o) => h('li', {},
        h('strong', { text: specialtyName(o.specialty) }),
        h('div', {}, `${Q.primary}: `, nameOf(o.primary_id) || '—'),
        o.secondary_id && h('div', {}, `${Q.secondary}: `, nameOf(o.secondary_id)),
        o.until && h('div', { class: 'muted', text: t(Q.until, { time: hhmm(o.until) }) })))
        : [empty(Q.noOncall)]));
    }
  }
  update();
  return { update, unmount: () => clearInterval(timer) };
}
