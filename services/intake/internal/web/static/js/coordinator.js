// The coordinator's screens: the live queue of open consults (waiting time, SLA
// countdown, who has it, filters), escalation alarms, the controls on a consult
// (assign, urgency, specialty, snooze, cancel), the on-call board and the figures.
import { api, enc, isMissing } from './api.js';
import { strings as S, t, num, percent, day, dateTime, seconds, weekday, shortDate, clock, isRTL, locale, languageName } from './i18n.js';
import { h, svg, free, badge, empty, countdown, since, select, setOptions, go, button, field, statusLine, dialog, flashError, keyed, showError, errorNodes } from './dom.js';
import { state, merge, nameOf, holderIds, specialtyName, loadSpecialties, rememberName, onFrame, OPEN, URGENCY_ORDER, wakeAt } from './store.js';
import { patientLine } from './referrer.js';

const Q = S.queue;
const C = S.coord;
const awaiting = (c) => ['requested', 'offered', 'escalated'].includes(c.status);
export const late = (c) => !!c.sla && (c.sla.breached || (awaiting(c) && Date.parse(c.sla.accept_by) <= Date.now()));
export const snoozedUntil = (c) => (Date.parse(c.escalation?.snoozed_until) > Date.now() ? c.escalation.snoozed_until : '');

// alarming: an open consult nobody holds that routing handed to the coordinators
// (escalated, or coordinators alerted since it was last taken or re-routed), unless snoozed.
const CLEARS = new Set(['consult.accepted', 'consult.assigned', 'consult.urgency_changed', 'consult.specialty_changed']);
export function alarming(c) {
  if (!OPEN(c) || c.assignee_id || snoozedUntil(c)) return false;
  if (c.status === 'escalated') return true;
  const evs = c.events || [];
  for (let i = evs.length - 1; i >= 0; i--) {
    if (evs[i].type === 'consult.coordinators_alerted') return true;
    if (CLEARS.has(evs[i].type)) return false;
  }
  return false;
}
export const alarms = () => [...state.consults.values()].filter(alarming)
  .sort((a, b) => URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency] || String(a.created_at).localeCompare(b.created_at));

const order = (a, b) => alarming(b) - alarming(a)
  || URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency]
  || String(a.sla?.accept_by || a.created_at).localeCompare(b.sla?.accept_by || b.created_at);

// act runs one control's request and says how it went; a missing endpoint hides the control.
async function act(btn, out, feature, run, hide) {
  btn.disabled = true;
  out.className = 'form-status';
  out.textContent = S.working;
  try {
    const r = await run();
    merge(r?.consult || r);
    out.textContent = S.detail.done;
    return true;
  } catch (e) {
    showError(out, e);
    if (isMissing(feature) && !e.missing) out.replaceChildren(S.unavailableFeature);
    if (e.missing) hide?.();
    return false;
  } finally {
    btn.disabled = false;
  }
}

// coordActions builds the controls for consult id; prefix keeps element ids unique.
export function coordActions(id, prefix, onDone) {
  const c0 = state.consults.get(id);
  const path = (verb) => `/api/v1/consults/${enc(id)}/${verb}`;
  const idOf = (k) => `${prefix}-${k}`;
  function part(name, title, controls, btnText, cls, run) {
    const out = statusLine();
    const btn = h('button', { type: 'submit', class: cls || '', text: btnText, 'data-action': name });
    const f = h('form', { class: `coord-part part-${name}`, 'data-part': name }, controls, h('div', { class: 'actions' }, btn, out));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (await act(btn, out, name, () => run(), () => { f.hidden = true; })) onDone?.(name);
    });
    if (isMissing(name)) f.hidden = true;
    return f;
  }
  const reason = (k, required) => h('input', { id: idOf(`${k}-reason`), dir: 'auto', maxlength: 500, required });

  const assignSel = select({ id: idOf('assign'), required: true }, [], S.loading);
  const loadSpecialists = (slug) => api('GET', `/api/v1/specialists?specialty=${enc(slug)}`).then((r) => {
    const list = r.specialists || [];
    for (const s of list) rememberName(s.id, s.name);
    setOptions(assignSel, list.map((s) => [s.id, s.languages?.length ? `${s.name} (${s.languages.map(languageName).join(', ')})` : s.name]),
      list.length ? S.choose : C.noSpecialists);
  }, () => setOptions(assignSel, [], C.noSpecialists));
  loadSpecialists(c0?.specialty || '');

  const urgSel = select({ id: idOf('urgency'), required: true }, Object.entries(S.urgency), S.choose);
  const urgReason = reason('urgency', true);
  const specSel = select({ id: idOf('specialty'), required: true }, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), S.choose);
  const specReason = reason('specialty', true);
  const minutes = h('input', { id: idOf('snooze'), type: 'number', min: 1, max: 1440, step: 1, value: '15', required: true, inputmode: 'numeric' });
  const snoozeReason = reason('snooze');
  const cancelReason = reason('cancel');

  const el = h('div', { class: 'coord-actions', 'data-consult-id': id },
    part('assign', '', field(c0?.assignee_id ? C.reassign : C.assignTo, assignSel), c0?.assignee_id ? C.reassign : C.assign, 'primary',
      () => api('POST', path('assign'), { specialist_id: assignSel.value }, undefined, 'assign')),
    part('urgency', '', [field(C.urgencyTo, urgSel), field(C.reason, urgReason)], C.changeUrgency, '',
      () => api('POST', path('urgency'), { urgency: urgSel.value, reason: urgReason.value.trim() }, undefined, 'urgency')),
    part('specialty', '', [field(C.specialtyTo, specSel), field(C.reason, specReason)], C.changeSpecialty, '',
      () => api('POST', path('specialty'), { specialty: specSel.value, reason: specReason.value.trim() }, undefined, 'specialty').then((r) => {
        loadSpecialists(specSel.value);
        return r;
      })),
    part('snooze', '', [field(C.snoozeFor, minutes), field(C.reason, snoozeReason)], C.snooze, '',
      () => api('POST', path('snooze'), { minutes: Number(minutes.value), reason: snoozeReason.value.trim() }, undefined, 'snooze')),
    part('cancel', '', field(C.cancelReason, cancelReason), C.cancel, 'danger',
      () => api('POST', path('cancel'), { reason: cancelReason.value.trim() }, undefined, 'cancel')));
  return el;
}

export function manageDialog(id) {
  const c = state.consults.get(id);
  const d = dialog(`${C.title}: ${specialtyName(c?.specialty)}`,
    c ? free('p', c.question, 'question clamp') : null,
    coordActions(id, 'dlg', () => setTimeout(() => d.open && d.close(), 600)));
}

export function snooze(c, minutes, btn) {
  btn.disabled = true;
  api('POST', `/api/v1/consults/${enc(c.id)}/snooze`, { minutes, reason: '' }, undefined, 'snooze')
    .then(merge, flashError)
    .finally(() => { btn.disabled = false; });
}

// ---- queue ----
export function queueView(root) {
  loadSpecialties().catch(() => {});
  const f = {
    status: select({ id: 'q-status' }, Object.entries(S.status).filter(([s]) => OPEN({ status: s })), Q.allOpen),
    urgency: select({ id: 'q-urgency' }, Object.entries(S.urgency), Q.all),
    specialty: select({ id: 'q-specialty' }, [], Q.all),
  };
  const search = h('input', { id: 'q-search', type: 'search', dir: 'auto', autocomplete: 'off' });
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': Q.filters },
    Object.entries(f).map(([k, el]) => h('div', { class: 'filter' }, h('label', { for: el.id, text: Q[k] }), el)),
    h('div', { class: 'filter grow' }, h('label', { for: search.id, text: Q.search }), search));
  filters.addEventListener('input', () => update());
  filters.addEventListener('submit', (e) => e.preventDefault());

  const banner = h('section', { id: 'alarm-banner', class: 'alarm', hidden: true, 'aria-labelledby': 'alarm-title' });
  const summary = h('p', { class: 'muted', id: 'queue-summary' });
  const cols = ['status', 'urgency', 'specialty', 'patient', 'question', 'waiting', 'sla', 'with', 'actions'];
  const tbody = h('tbody');
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-consult-id]');
    if (tr && !e.target.closest('a,button')) go(`/consults/${enc(tr.dataset.consultId)}`);
  });
  const oncallList = h('ul', { class: 'oncall-list' });
  root.append(banner, h('div', { class: 'queue-layout' },
    h('section', { 'aria-labelledby': 'queue-title' }, h('h2', { id: 'queue-title', text: Q.title }), filters, summary,
      h('div', { class: 'table-wrap' }, h('table', { id: 'queue', class: 'queue' },
        h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col', text: Q[k] })))), tbody))),
    h('aside', { id: 'oncall', class: 'card', 'aria-labelledby': 'oncall-title' }, h('h2', { id: 'oncall-title', text: Q.oncall }), oncallList)));

  let oncall = null;
  const loadOncall = () => api('GET', '/api/v1/oncall').then((r) => { oncall = r.oncall || []; update(); }, () => {});
  loadOncall();
  const timer = setInterval(loadOncall, 60000);
  const off = onFrame((fr) => { if (fr.type === 'roster.changed') loadOncall(); });

  const cell = (k, ...kids) => h('td', { 'data-label': Q[k] }, ...kids);
  let bannerKey = '';
  let oncallSig = '';
  function update() {
    if (f.specialty.options.length <= 1 && state.specialties.length) {
      setOptions(f.specialty, state.specialties.map((s) => [s.slug, specialtyName(s.slug)]), Q.all);
    }
    const open = [...state.consults.values()].filter(OPEN);
    const q = search.value.trim().toLocaleLowerCase();
    const shown = open.filter((c) => Object.entries(f).every(([k, el]) => !el.value || c[k] === el.value)
      && (!q || String(c.question).toLocaleLowerCase().includes(q))).sort(order);
    summary.textContent = t(Q.summary, { open: num(open.length), escalated: num(open.filter((c) => c.status === 'escalated').length), breached: num(open.filter(late).length) });
    keyed(tbody, shown, (c) => c.id,
      (c) => JSON.stringify([c.status, c.urgency, c.specialty, c.question, c.patient, c.sla, c.escalation, holderIds(c).map(nameOf), alarming(c), late(c), locale()]),
      (c) => {
        const who = holderIds(c);
        const sla = c.sla || {};
        const sz = snoozedUntil(c);
        return h('tr', { 'data-consult-id': c.id, 'data-status': c.status, class: [alarming(c) ? 'alarming' : '', late(c) ? 'late' : ''].join(' ') },
          cell('status', h('a', { href: `/consults/${enc(c.id)}` }, badge('status', c.status)),
            sz ? h('span', { class: 'muted small', text: ` ${Q.snoozed}` }) : null),
          cell('urgency', badge('urgency', c.urgency)),
          cell('specialty', specialtyName(c.specialty)),
          cell('patient', patientLine(c.patient)),
          cell('question', free('span', c.question, 'clamp1')),
          cell('waiting', since(c.created_at)),
          cell('sla', !sla.accept_by ? '' : awaiting(c) ? countdown(sla.accept_by, { breached: sla.breached })
            : h('span', { class: sla.breached ? 'late-text' : null, text: sla.breached ? Q.breached : Q.met })),
          cell('with', who.length ? who.map(nameOf).join(', ') : S.none),
          cell('actions', button(C.manage, () => manageDialog(c.id), { class: 'small', 'data-action': 'manage', 'aria-label': `${C.manage}: ${specialtyName(c.specialty)}, ${c.id.slice(-6)}` })));
      },
      () => h('tr', {}, h('td', { colspan: cols.length, class: 'empty', text: state.loaded ? Q.empty : S.loading })));

    // Alarms and deadlines depend on the clock: render again when the next snooze ends or the
    // next deadline passes, not only when an event comes.
    wakeAt('queue', open.flatMap((c) => [c.escalation?.snoozed_until, awaiting(c) && !c.sla?.breached ? c.sla?.accept_by : '']).filter(Boolean));
    const list = alarms();
    const key = list.map((c) => `${c.id}:${c.status}:${c.urgency}`).join() + S.appName;
    if (key !== bannerKey) {
      bannerKey = key;
      banner.hidden = !list.length;
      banner.replaceChildren(h('h2', { id: 'alarm-title', text: list.length === 1 ? Q.alarmOne : t(Q.alarm, { n: num(list.length) }) }),
        h('ul', { class: 'list' }, list.map((c) => h('li', { class: 'alarm-item', 'data-consult-id': c.id },
          badge('urgency', c.urgency), ' ', h('strong', { text: specialtyName(c.specialty) }), ' ',
          free('span', c.question, 'clamp1 inline'), ' ', since(c.created_at), ' ',
          h('a', { href: `/consults/${enc(c.id)}`, class: 'button small', text: Q.open }), ' ',
          button(C.manage, () => manageDialog(c.id), { class: 'small' }), ' ',
          isMissing('snooze') ? null : button(Q.snooze15, (e) => snooze(c, 15, e.currentTarget), { class: 'small', 'data-action': 'snooze15' })))));
    }

    if (oncall && oncallSig !== (oncallSig = JSON.stringify([oncall, oncall.map((o) => [nameOf(o.primary_id), nameOf(o.secondary_id)]), locale()]))) {
      oncallList.replaceChildren(...(oncall.length ? oncall.map((o) => h('li', {},
        h('strong', { text: specialtyName(o.specialty) }),
        h('div', {}, `${Q.primary}: `, nameOf(o.primary_id) || S.none),
        o.secondary_id && h('div', {}, `${Q.secondary}: `, nameOf(o.secondary_id)),
        o.until && h('div', { class: 'muted', text: t(Q.until, { time: dateTime(o.until) }) })))
        : [empty(Q.noOncall)]));
    }
  }
  update();
  return { update, unmount: () => { clearInterval(timer); off(); wakeAt('queue', []); } };
}

// ---- on-call board ----
const B = S.board;
const startOfDay = (d) => { const x = new Date(d); x.setHours(0, 0, 0, 0); return x; };
const addDays = (d, n) => { const x = new Date(d); x.setDate(x.getDate() + n); return x; };

export function boardView(root) {
  loadSpecialties().catch(() => {});
  const box = h('div', { id: 'board', class: 'board' }, h('p', { class: 'muted', text: S.loading }));
  root.append(h('h2', { text: B.title }), box);
  let data = null;
  let fallback = null;
  async function load() {
    const from = startOfDay(new Date());
    try {
      data = (await api('GET', `/api/v1/oncall/board?from=${enc(from.toISOString())}&days=7`, undefined, undefined, 'board')).board || [];
    } catch (e) {
      if (e.status !== 404) { box.replaceChildren(h('p', { class: 'form-status error' }, errorNodes(e))); shownSig = ''; return; }
      data = null;
      fallback = (await api('GET', '/api/v1/oncall').catch(() => ({}))).oncall || [];
    }
    update();
  }
  load();
  const off = onFrame((f) => { if (f.type === 'roster.changed') load(); });
  const timer = setInterval(load, 5 * 60000);

  // names lists who is on call within [from, to): a name alone when one shift covers it all,
  // else each part with its hours.
  function names(segs, from, to) {
    const within = segs.filter((s) => Date.parse(s.from) < +to && Date.parse(s.to) > +from);
    if (!within.length) return h('span', { class: 'muted', text: S.none });
    return h('ul', { class: 'segs' }, within.map((s) => {
      const a = Math.max(Date.parse(s.from), +from), b = Math.min(Date.parse(s.to), +to);
      const whole = a === +from && b === +to;
      const override = s.source === 'override';
      return h('li', { class: override ? 'override' : null },
        whole ? null : [h('span', { class: 'when', text: `${clock(a)}–${b === +to ? clock(b).replace(/^0?0([:.])/, '24$1') : clock(b)}` }), ' '],
        h('span', { text: nameOf(s.user_id) }), override ? h('span', { class: 'tag', text: B.override }) : null);
    }));
  }
  let shownSig = '';
  function update() {
    // Rebuilt only when what it shows changes (names arriving, the day turning, new data).
    const ids = (data || []).flatMap((row) => [...(row.primary || []), ...(row.secondary || [])].map((s) => s.user_id));
    const sig = JSON.stringify([data, fallback, ids.map(nameOf), (fallback || []).map((o) => [nameOf(o.primary_id), nameOf(o.secondary_id)]),
      locale(), startOfDay(new Date()).getTime(), Math.floor(Date.now() / 60000)]);
    if (sig === shownSig) return;
    shownSig = sig;
    if (data) {
      const now = new Date();
      const days = [...Array(7)].map((_, i) => addDays(startOfDay(now), i));
      box.replaceChildren(...(data.length ? data.map((row) => h('section', { class: 'card board-card', 'data-specialty': row.specialty },
        h('h3', { text: specialtyName(row.specialty) }),
        h('p', { class: 'board-now' }, h('strong', { text: `${B.now}: ` }), `${Q.primary}: `, names(row.primary || [], now, new Date(+now + 1)), ' · ',
          `${Q.secondary}: `, names(row.secondary || [], now, new Date(+now + 1))),
        h('div', { class: 'table-wrap' }, h('table', { class: 'board-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: B.day }), h('th', { scope: 'col', text: Q.primary }), h('th', { scope: 'col', text: Q.secondary }))),
          h('tbody', {}, days.map((d) => h('tr', {}, h('th', { scope: 'row', text: day(d) }),
            h('td', {}, names(row.primary || [], d, addDays(d, 1))), h('td', {}, names(row.secondary || [], d, addDays(d, 1)))))))))) : [h('p', { class: 'empty', text: B.noShifts })]));
    } else if (fallback) {
      box.replaceChildren(h('p', { class: 'notice', text: B.fallback }), h('ul', { class: 'oncall-list card' }, fallback.map((o) => h('li', {},
        h('strong', { text: specialtyName(o.specialty) }),
        h('div', {}, `${Q.primary}: `, nameOf(o.primary_id) || S.none),
        o.secondary_id && h('div', {}, `${Q.secondary}: `, nameOf(o.secondary_id)),
        o.until && h('div', { class: 'muted', text: t(Q.until, { time: dateTime(o.until) }) })))));
    }
  }
  return { update, unmount: () => { off(); clearInterval(timer); } };
}

// ---- figures ----
const G = S.figures;
export function figuresView(root) {
  loadSpecialties().catch(() => {});
  const box = h('div', { id: 'figures', class: 'figures' }, h('p', { class: 'muted', text: S.loading }));
  root.append(h('h2', { text: G.title }), box);
  let data = null;
  async function load() {
    try {
      data = await api('GET', '/api/v1/figures?days=7', undefined, undefined, 'figures');
    } catch (e) {
      box.replaceChildren(h('p', { class: e.status === 404 ? 'notice' : 'form-status error' }, e.status === 404 ? S.unavailableFeature : errorNodes(e)));
      shownSig = '';
      return;
    }
    update();
  }
  let shownSig = '';
  load();
  const held = throttledPanel(root);
  const off = onFrame((f) => { if (f.type === 'roster.changed') load(); });
  const timer = setInterval(() => { load(); held.load(); }, 60000);

  const stat = (label, value, cls) => h('div', { class: `stat ${cls || ''}` }, h('dt', { text: label }), h('dd', { text: value }));
  const figCard = (title, fg, id) => h('section', { class: 'card fig-card', id },
    h('h3', { text: title }),
    h('dl', { class: 'stats' },
      stat(G.count, num(fg?.count ?? 0)),
      stat(G.median, fg?.median_accept_seconds != null && fg.count ? seconds(fg.median_accept_seconds) : S.none),
      stat(G.withinSla, fg?.within_sla_percent != null && fg.count ? percent(fg.within_sla_percent) : S.none)));
  function update() {
    // Rebuilt only when the figures or the language change: every live update would
    // otherwise take the focus away and close the table of days.
    const sig = JSON.stringify([data, locale(), state.specialties.length]);
    if (!data || sig === shownSig) return;
    shownSig = sig;
    const wasOpen = box.querySelector('details')?.open;
    const focused = box.contains(document.activeElement) ? document.activeElement.id || document.activeElement.tagName : '';
    const week = data.last_7_days || data.last_days;
    const slugs = [...new Set([...Object.keys(data.today?.by_specialty || {}), ...Object.keys(week?.by_specialty || {})])]
      .sort((a, b) => (week?.by_specialty?.[b] || 0) - (week?.by_specialty?.[a] || 0));
    box.replaceChildren(
      h('div', { class: 'fig-row' }, figCard(G.today, data.today, 'fig-today'), figCard(G.week, week, 'fig-week')),
      h('section', { class: 'card' }, h('h3', { text: G.byDay }), chart(data.by_day || [])),
      h('section', { class: 'card' }, h('h3', { text: G.bySpecialty }),
        slugs.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'fig-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: Q.specialty }), h('th', { scope: 'col', text: G.today }), h('th', { scope: 'col', text: G.week }))),
          h('tbody', {}, slugs.map((s) => h('tr', {}, h('th', { scope: 'row', text: specialtyName(s) }),
            h('td', { text: num(data.today?.by_specialty?.[s] || 0) }), h('td', { text: num(week?.by_specialty?.[s] || 0) })))))) : h('p', { class: 'empty', text: G.noData })));
    const details = box.querySelector('details');
    if (details && wasOpen) details.open = true;
    if (focused) (document.getElementById(focused) || box.querySelector(focused))?.focus();
  }
  return { update: () => { update(); held.update(); }, unmount: () => { off(); clearInterval(timer); } };
}

// throttledPanel shows who was held back by one of their budgets in the last day (a script, a
// stuck client, a person in a hurry): who, which limit, since when, how often. Names, not ids.
const TH = S.throttled;
function throttledPanel(root) {
  const body = h('div', { id: 'throttled-list' }, h('p', { class: 'muted', text: S.loading }));
  const section = h('section', { class: 'card', id: 'throttled', 'aria-labelledby': 'throttled-title' },
    h('h3', { id: 'throttled-title', text: TH.title }), body);
  root.append(section);
  let list = null;
  let shown = '';
  async function load() {
    try {
      list = (await api('GET', '/api/v1/throttled', undefined, undefined, 'throttled'))?.throttled || [];
    } catch (e) {
      if (e.missing) { section.hidden = true; return; }
      body.replaceChildren(h('p', { class: 'form-status error' }, errorNodes(e)));
      shown = '';
      return;
    }
    update();
  }
  function update() {
    if (!list) return;
    const rows = list.map((r) => ({ ...r, name: nameOf(r.user_id) }));
    const sig = JSON.stringify([rows, locale()]);
    if (sig === shown) return;
    shown = sig;
    body.replaceChildren(rows.length ? h('div', { class: 'scroll-x' }, h('table', { class: 'fig-table throttled-table' },
      h('thead', {}, h('tr', {}, [TH.who, TH.budget, TH.count, TH.since, TH.last].map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-user-id': r.user_id, 'data-budget': r.budget },
        h('th', { scope: 'row', text: r.name }),
        h('td', { 'data-label': TH.budget, text: S.budget[r.budget] || r.budget }),
        h('td', { 'data-label': TH.count, class: 'num', text: num(r.refusals) }),
        h('td', { 'data-label': TH.since }, h('time', { datetime: r.first_at, text: dateTime(r.first_at) })),
        h('td', { 'data-label': TH.last }, h('time', { datetime: r.last_at, text: dateTime(r.last_at) }))))))) : h('p', { class: 'empty', text: TH.none }));
  }
  load();
  return { load, update };
}

// chart draws consults per day as grouped bars (all, accepted, within target) in SVG,
// oldest first in the reading direction, with the numbers also in a table.
function chart(days) {
  if (!days.length) return h('p', { class: 'empty', text: G.noData });
  const W = 640, H = 240, pad = { top: 16, bottom: 40, side: 32 };
  const max = Math.max(1, ...days.map((d) => d.count || 0));
  const step = (W - 2 * pad.side) / days.length;
  const bw = Math.min(18, (step - 12) / 3);
  const y = (v) => H - pad.bottom - ((H - pad.top - pad.bottom) * v) / max;
  const rtl = isRTL();
  const kids = [svg('title', { id: 'chart-title', text: G.chartLabel })];
  for (const v of [0, Math.ceil(max / 2), max]) {
    kids.push(svg('line', { class: 'grid-line', x1: pad.side, x2: W - pad.side, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: rtl ? W - pad.side + 4 : pad.side - 4, y: y(v) + 4, 'text-anchor': rtl ? 'start' : 'end', text: num(v) }));
  }
  days.forEach((d, i) => {
    const slot = rtl ? days.length - 1 - i : i;
    const x0 = pad.side + slot * step + (step - 3 * bw - 4) / 2;
    [['count', d.count], ['accepted', d.accepted], ['within', d.within_sla]].forEach(([k, v], j) => {
      v = v || 0;
      kids.push(svg('rect', { class: `bar bar-${k}`, x: x0 + (rtl ? 2 - j : j) * (bw + 2), y: y(v), width: bw, height: Math.max(0, y(0) - y(v)) },
        svg('title', { text: `${day(`${d.date}T12:00:00`)}: ${num(v)}` })));
    });
    const cx = pad.side + slot * step + step / 2;
    const noon = new Date(`${d.date}T12:00:00`);
    kids.push(svg('text', { class: 'axis', x: cx, y: H - pad.bottom + 16, 'text-anchor': 'middle' },
      svg('tspan', { x: cx, text: weekday(noon) }), svg('tspan', { x: cx, dy: 14, text: shortDate(noon) })));
  });
  const legend = h('ul', { class: 'legend' }, [['count', G.legendCount], ['accepted', G.legendAccepted], ['within', G.legendWithin]]
    .map(([k, label]) => h('li', {}, h('span', { class: `swatch bar-${k}`, 'aria-hidden': 'true' }), label)));
  const table = h('table', { class: 'fig-table compact' },
    h('caption', { class: 'sr-only', text: G.chartLabel }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: B.day }), h('th', { scope: 'col', text: G.legendCount }),
      h('th', { scope: 'col', text: G.legendAccepted }), h('th', { scope: 'col', text: G.legendWithin }))),
    h('tbody', {}, days.map((d) => h('tr', {}, h('th', { scope: 'row', text: day(d.date + 'T12:00:00') }),
      h('td', { text: num(d.count || 0) }), h('td', { text: num(d.accepted || 0) }), h('td', { text: num(d.within_sla || 0) })))));
  return h('div', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title', class: 'chart-svg', id: 'figures-chart' }, kids),
    legend, h('details', { id: 'figures-days' }, h('summary', { id: 'figures-days-summary', text: G.byDay }), table));
}
