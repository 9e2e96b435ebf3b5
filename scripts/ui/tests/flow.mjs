// 1. The whole path across three browser contexts: referrer1 switches to Arabic, fills
// the pediatric-oncology form with its specialty fields (febrile neutropenia: the red-flag
// rule raises the urgency to emergent), attaches a PNG (scaled in the browser) and sends
// it; onc1 (Hebrew) gets the live offer and accepts; coord1 sees it move to accepted live;
// the referrer's receipt follows live without losing the keyboard focus; the attachment
// and the details (units left to right, dates in words) are on the consult.
import { person, signIn, setLocale, step, check, pending, log, api, missing, png, imageSize, OUT } from '../lib.mjs';
import path from 'node:path';

// A child with B-cell ALL in induction, febrile and neutropenic: what a referrer would send.
const yesterday = () => new Date(Date.now() - 86400000).toISOString().slice(0, 10);
const ONCOLOGY = {
  diagnosis: 'B-cell ALL', stage: 'high risk', current_treatment: 'AIEOP-BFM 2017 induction', cycle: '1',
  wbc: '18.2', anc: '0.3', hemoglobin: '9.1', platelets: '110', counts_date: yesterday, fever: 'true', temperature_c: '38.9',
};

export default async function flow(shared) {
  const { browser } = shared;
  const coord = await signIn(await person(browser, 'coordinator'), 'coord1');
  const onc = await signIn(await person(browser, 'specialist'), 'onc1');
  const ref = await signIn(await person(browser, 'referrer', { viewport: { width: 1100, height: 900 } }), 'referrer1');
  Object.assign(shared, { coord, onc, ref });
  await setLocale(coord, 'en');
  await setLocale(onc, 'he');
  const r = ref.page;
  const question = `Flow ${Date.now()}: 7-year-old girl, new mediastinal mass and fever for 10 days. Start steroids before the biopsy?`;
  let id = '';
  let detailsFilled = 0;
  let attached = false;

  await step('flow: referrer switches the interface to Arabic', async () => {
    await setLocale(ref, 'en');
    check(await r.evaluate(() => document.documentElement.dir) === 'ltr', 'English is not left-to-right');
    await setLocale(ref, 'ar');
    const { dir, nav } = await r.evaluate(() => ({ dir: document.documentElement.dir, nav: document.querySelector('nav')?.textContent }));
    check(dir === 'rtl', `html dir is ${dir} in Arabic`);
    check(/استشارة جديدة/.test(nav), `the navigation is not in Arabic: "${nav}"`);
  });

  await step('flow: referrer fills the common fields', async () => {
    await r.goto('/new');
    await r.locator('#f-specialty option[value="pediatric-oncology"]').waitFor({ state: 'attached' });
    await r.locator('#f-specialty').selectOption('pediatric-oncology');
    // Asked as urgent: fever with ANC below 0.5 makes it emergent on the server.
    await r.locator('#f-urgency').selectOption('urgent');
    await r.locator('#f-age').fill('7');
    await r.locator('#f-sex').selectOption('female');
    await r.locator('#f-reference').fill('HEB-FLOW-1');
    await r.locator('#f-question').fill(question);
    await r.locator('#f-summary').fill('CBC: WBC 18.2, Hb 9.1, Plt 110. Chest X-ray: widened mediastinum.');
  });

  await step('flow: the specialty form\'s fields (details)', async () => {
    const spec = (await api(ref, 'GET', '/api/v1/specialties')).body?.specialties?.find((s) => s.slug === 'pediatric-oncology');
    if (!spec?.form?.length) pending('GET /api/v1/specialties has no `form` for pediatric-oncology yet');
    await r.locator('#details-fields:not([hidden])').waitFor();
    const unknown = spec.form.filter((f) => !(f.key in ONCOLOGY)).map((f) => f.key);
    check(!unknown.length, `the oncology form has fields this test does not know: ${unknown}`);
    for (const f of spec.form) {
      const el = r.locator(`[name="details.${f.key}"]`);
      const v = typeof ONCOLOGY[f.key] === 'function' ? ONCOLOGY[f.key]() : ONCOLOGY[f.key];
      if (await el.evaluate((e) => e.tagName === 'SELECT')) await el.selectOption(v); else await el.fill(v);
      detailsFilled++;
    }
    // The date control is the browser's; the page says the chosen date in its own words.
    const hint = await r.locator('#f-d-counts_date-hint').innerText();
    check(hint && !hint.includes(yesterday()), `the date field's hint does not say the date in words: "${hint}"`);
    const label = await r.locator('#details-fields label').first().innerText();
    const want = spec.form[0].label?.ar;
    check(!want || label.includes(want), `detail label "${label}" is not the Arabic label "${want}"`);
    log(`referrer: filled ${detailsFilled} specialty fields`);
  });

  await step('flow: a PNG attachment, scaled in the browser and uploaded', async () => {
    await r.locator('#f-files').setInputFiles({ name: 'chest-xray.png', mimeType: 'image/png', buffer: png(2400, 1200) });
    const state = await r.waitForFunction(() => {
      const f = document.querySelector('[data-field="attachments"]');
      if (f?.hidden) return 'missing';
      return document.querySelector('#files li[data-state="done"]') ? 'done' : document.querySelector('#files li[data-state="failed"]')?.textContent || '';
    }).then((h) => h.jsonValue());
    if (state === 'missing') pending('POST /api/v1/attachments answers 404');
    check(state === 'done', `upload failed: ${state}`);
    attached = true;
  });

  await step('flow: submit and a plain receipt with the date, the time and who has it', async () => {
    await r.screenshot({ path: path.join(OUT, 'flow-referrer-form-ar.png'), fullPage: true });
    await r.locator('#f-submit').click();
    const receipt = r.locator('#receipt[data-consult-id]:not([hidden])');
    await receipt.waitFor();
    id = await receipt.getAttribute('data-consult-id');
    const created = await receipt.getAttribute('data-created-at');
    const want = await r.evaluate((iso) => new Intl.DateTimeFormat('ar', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso)), created);
    const text = await receipt.innerText();
    check(text.includes(`استلم المستشفى الطلب في ${want}`), `receipt does not say when the hospital received it: "${text}"`);
    check(!/null|undefined/.test(text), `the receipt shows "null" or "undefined": "${text}"`);
    check(await r.evaluate(() => !localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('consults.draft.')) || 'x')), 'the draft was not cleared');
    log(`referrer: consult ${id}: "${text.split('\n')[0]}"`);
  });
  shared.flowId = id;

  await step('flow: the red-flag rule raised the urgency to emergent, and the receipt says why', async () => {
    check(id, 'no consult was sent');
    const receipt = r.locator('#receipt');
    check(await receipt.getAttribute('data-urgency') === 'emergent', `urgency on the receipt: ${await receipt.getAttribute('data-urgency')}`);
    const raised = await r.locator('#receipt .raised').innerText();
    check(raised.includes('طارئة') && raised.includes('قلة العدلات الحموية'), `the receipt does not say, in Arabic, that the urgency was raised and why: "${raised}"`);
    const c = (await api(ref, 'GET', `/api/v1/consults/${id}`)).body;
    check(c?.urgency === 'emergent' && c?.requested_urgency === 'urgent', `server: urgency ${c?.urgency}, requested ${c?.requested_urgency}`);
  });

  await step('flow: keyboard focus on the receipt\'s link survives a live update', async () => {
    check(id, 'no consult was sent');
    await r.locator('#receipt-open').focus();
    // A live frame (a name arriving, an offer) re-renders the page; the focused link stays.
    await r.waitForTimeout(600);
    check(await r.evaluate(() => document.activeElement?.id) === 'receipt-open', 'focus left the receipt\'s link');
  });

  await step('flow: the specialist gets the live offer and accepts it', async () => {
    check(id, 'no consult was sent');
    const o = onc.page;
    const card = o.locator(`#offers li[data-consult-id="${id}"]`);
    await card.waitFor();
    check((await card.locator('.question').innerText()).includes(question.slice(0, 40)), 'the offer does not show the question');
    check(await card.locator('.clock').count() === 1, 'the offer has no countdown');
    check(/^\(\d+\)/.test(await o.title()), `tab title "${await o.title()}" does not count the offer`);
    await o.screenshot({ path: path.join(OUT, 'flow-specialist-offer-he.png'), fullPage: true });
    await card.locator('button[data-action="accept"]').click();
    await o.locator(`#consult-detail[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
  });

  await step('flow: the coordinator sees it move to accepted live', async () => {
    check(id, 'no consult was sent');
    await coord.page.locator(`#queue tr[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    const who = await coord.page.locator(`#queue tr[data-consult-id="${id}"] td[data-label="With"]`).innerText();
    check(/Noa Levi/.test(who), `the queue does not say who has it: "${who}"`);
  });

  await step('flow: the referrer\'s receipt turns to accepted live, naming the specialist, focus kept', async () => {
    check(id, 'no consult was sent');
    await r.locator(`#receipt[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    const text = await r.locator('#receipt').innerText();
    check(/Noa Levi/.test(text), `receipt does not name who has it: "${text}"`);
    check(!/null|undefined/.test(text), `the receipt shows "null" or "undefined": "${text}"`);
    check(await r.evaluate(() => document.activeElement?.id) === 'receipt-open', 'the live update took the focus off the receipt\'s link');
  });

  await step('flow: the attachment is listed on the consult and opens', async () => {
    check(id, 'no consult was sent');
    if (!attached) pending('POST /api/v1/attachments answers 404');
    for (const p of [ref, onc]) {
      await p.page.goto(`/consults/${id}`);
      await p.page.locator(`#consult-detail[data-consult-id="${id}"]`).waitFor();
      const links = p.page.locator('#attachments li[data-attachment-id] a');
      await links.first().waitFor();
      check(await links.count() === 1, `${p.label}: ${await links.count()} attachments listed, want 1`);
    }
    const href = await ref.page.locator('#attachments a').first().getAttribute('href');
    const res = await ref.context.request.get(href);
    if (res.status() === 404 && /endpoint/.test(await res.text())) pending('GET /api/v1/consults/{id}/attachments/{aid} answers 404');
    check(res.ok(), `GET ${href}: ${res.status()}`);
    const size = imageSize(await res.body());
    check(size && Math.max(size.w, size.h) <= 2000, `the stored image is ${JSON.stringify(size)}, want its longest side at most 2000 px`);
    log(`attachment stored as ${size.type} ${size.w}×${size.h}`);
  });

  await step('flow: the specialty details show on the consult', async () => {
    check(id, 'no consult was sent');
    if (!detailsFilled) pending('GET /api/v1/specialties has no `form` yet');
    await onc.page.goto(`/consults/${id}`);
    await onc.page.locator('#details dd[data-key]').first().waitFor();
    const n = await onc.page.locator('#details dd[data-key]').count();
    check(n === detailsFilled, `${n} details shown, ${detailsFilled} sent`);
    // Hebrew is right to left; the unit keeps its own order in an isolate.
    const wbc = onc.page.locator('#details dd[data-key="wbc"] bdi[dir="ltr"]');
    check(await wbc.count() === 1 && (await wbc.innerText()) === '×10⁹/L', 'the WBC unit is not in a left-to-right <bdi>');
    const date = await onc.page.locator('#details dd[data-key="counts_date"]').innerText();
    check(!/^\d{4}-\d{2}-\d{2}$/.test(date.trim()), `the date is shown as stored, not in words: "${date}"`);
    const requested = await onc.page.locator('#timeline li[data-type="consult.requested"]').innerText();
    check(requested.includes('נויטרופניה'), `the timeline does not say, in Hebrew, why the urgency was raised: "${requested}"`);
    check(await onc.page.locator('#consult-detail[data-urgency="emergent"]').count() === 1, 'the consult is not shown as emergent');
  });
}
