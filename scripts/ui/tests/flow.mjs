// 1. The whole path across three browser contexts: referrer1 switches to Arabic, fills
// the pediatric-oncology form with its specialty fields, attaches a PNG (scaled in the
// browser) and sends it; onc1 (Hebrew) gets the live offer and accepts; coord1 sees it
// move to accepted live; the attachment is listed on the consult.
import { person, signIn, setLocale, step, check, pending, log, api, missing, png, fillDetails, imageSize, OUT } from '../lib.mjs';
import path from 'node:path';

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
    await r.locator('#f-urgency').selectOption('emergent');
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
    detailsFilled = await fillDetails(r);
    check(detailsFilled === spec.form.length, `filled ${detailsFilled} detail fields, the form has ${spec.form.length}`);
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

  await step('flow: submit and a plain receipt with the time and who has it', async () => {
    await r.screenshot({ path: path.join(OUT, 'flow-referrer-form-ar.png'), fullPage: true });
    await r.locator('#f-submit').click();
    const receipt = r.locator('#receipt[data-consult-id]');
    await receipt.waitFor();
    id = await receipt.getAttribute('data-consult-id');
    const created = await receipt.getAttribute('data-created-at');
    const want = await r.evaluate((iso) => new Intl.DateTimeFormat('ar', { hour: '2-digit', minute: '2-digit' }).format(new Date(iso)), created);
    const text = await receipt.innerText();
    check(text.includes(`استلم المستشفى الطلب الساعة ${want}`), `receipt does not say when the hospital received it: "${text}"`);
    check(await r.evaluate(() => !localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('consults.draft.')) || 'x')), 'the draft was not cleared');
    log(`referrer: consult ${id}: "${text.split('\n')[0]}"`);
  });
  shared.flowId = id;

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

  await step('flow: the referrer\'s receipt turns to accepted live, naming the specialist', async () => {
    check(id, 'no consult was sent');
    await r.locator(`#receipt[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    const text = await r.locator('#receipt').innerText();
    check(/Noa Levi/.test(text), `receipt does not name who has it: "${text}"`);
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
  });
}
