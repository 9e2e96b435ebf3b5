// 4. Clinical text never runs: markup in the question, the summary, a specialty field, an
// attachment's file name, a message and a decline reason shows as literal text for the
// referrer, the specialist and the coordinator, and no dialog opens. Also: the
// coordinator's controls in a keyboard-driven dialog, an offer taken away live from the
// specialist who held it, and a decline with a reason.
import { person, signIn, setLocale, step, check, pending, log, api, missing, waitFor, png } from '../lib.mjs';

const PAYLOAD = '<img src=x onerror=alert(1)><script>alert(2)</script>';
// A file name cannot hold "/": the server keeps what follows the last one.
const FILE_PAYLOAD = '<img src=x onerror=alert(3)>.png';

const receiptId = (page) => page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith('consults.receipt.'))?.[1] || '');

async function submit(ref, question, urgency, { summary, diagnosis, file } = {}) {
  const r = ref.page;
  const before = await receiptId(r);
  await r.goto('/new');
  await r.locator('#f-specialty option[value="pediatric-oncology"]').waitFor({ state: 'attached' });
  await r.locator('#f-specialty').selectOption('pediatric-oncology');
  await r.locator('#f-urgency').selectOption(urgency);
  await r.locator('#f-age').fill('9');
  await r.locator('#f-sex').selectOption('male');
  await r.locator('#f-question').fill(question);
  if (summary) await r.locator('#f-summary').fill(summary);
  // Required specialty fields, when the server has a form.
  const required = r.locator('#details-fields :is(input,select,textarea)[required]');
  for (let i = 0; i < await required.count(); i++) {
    const el = required.nth(i);
    const tag = await el.evaluate((e) => e.tagName + ':' + e.type);
    if (tag.startsWith('SELECT')) await el.selectOption({ index: 1 });
    else if (tag.endsWith('number')) await el.fill(await el.evaluate((e) => String(e.min || 1)));
    else if (tag.endsWith('date')) await el.fill(new Date().toISOString().slice(0, 10));
    else await el.fill('n/a');
  }
  if (diagnosis) await r.locator('[name="details.diagnosis"]').fill(diagnosis);
  if (file) {
    await r.locator('#f-files').setInputFiles({ name: FILE_PAYLOAD, mimeType: 'image/png', buffer: png(40, 30) });
    // The picked file's name shows as typed, as text.
    const name = await r.locator('#files .file-name').first().innerText();
    check(name.includes('onerror=alert(3)'), `the file list does not show the file's name as text: "${name}"`);
    await r.locator('#files li[data-state="done"]').waitFor();
    await inert(ref, 'form with an attachment', 'onerror=alert(3)');
  }
  await r.locator('#f-submit').click();
  return waitFor(() => r.evaluate((b) => {
    const e = document.getElementById('receipt');
    return e && !e.hidden && e.dataset.consultId && e.dataset.consultId !== b ? e.dataset.consultId : '';
  }, before), 'no receipt for the new consult');
}

async function inert(p, where, text = PAYLOAD) {
  const n = await p.page.evaluate(() => ({ img: document.querySelectorAll('img').length, script: document.querySelectorAll('script').length }));
  check(n.img === 0, `${p.label}: ${n.img} <img> element(s) on the page (${where}): clinical text parsed as HTML`);
  check(n.script === 1, `${p.label}: ${n.script} <script> elements (${where}), want only the app's`);
  check(await p.page.getByText(text, { exact: false }).count() > 0, `${p.label}: the literal text ${text} is not shown (${where})`);
}

// consultInert opens the consult and checks each part that holds typed text.
async function consultInert(p, id, { message } = {}) {
  const page = p.page;
  await page.goto(`/consults/${id}`);
  await page.locator(`#consult-detail[data-consult-id="${id}"] .question`).first().waitFor();
  const texts = await page.locator('#consult-detail .question').allInnerTexts();
  check(texts.filter((x) => x.includes(PAYLOAD)).length === 2, `${p.label}: the question and the summary do not both show the literal payload`);
  const dx = page.locator('#details dd[data-key="diagnosis"]');
  if (await dx.count()) check((await dx.innerText()).includes(PAYLOAD), `${p.label}: the diagnosis does not show the literal payload`);
  const file = await page.locator('#attachments a').first().innerText().catch(() => '');
  check(file.includes('onerror=alert(3)'), `${p.label}: the attachment's name is not shown as text: "${file}"`);
  if (message) {
    await page.locator('#thread .body').filter({ hasText: message }).first().waitFor();
  }
  await inert(p, `consult of ${id}`);
}

export default async function xss(shared) {
  const { onc, coord } = shared;
  if (!onc || !coord) throw new Error('the flow test did not sign in the specialist and the coordinator');
  const ref = await signIn(await person(shared.browser, 'referrer (xss)'), 'referrer3');
  await setLocale(ref, 'en');
  const question = `Payload ${Date.now()} ${PAYLOAD} — read as text?`;
  let id = '';

  await step('xss: markup in the question, summary, details, file name and a message is literal text for everyone', async () => {
    id = await submit(ref, question, 'urgent', { summary: `Summary ${PAYLOAD} end`, diagnosis: `Dx ${PAYLOAD}`, file: true });
    // The referrer writes a message with markup in it.
    const message = `Message ${PAYLOAD} — read as text?`;
    await ref.page.goto(`/consults/${id}`);
    await ref.page.locator('#message-form:not([hidden]) #d-message').fill(message);
    await ref.page.locator('#message-form button[data-action="message"]').click();
    await ref.page.locator('#thread .body').filter({ hasText: 'Message <img' }).first().waitFor();
    await onc.page.goto('/inbox');
    const card = onc.page.locator(`#offers li[data-consult-id="${id}"]`);
    await card.waitFor();
    check((await card.locator('.question').innerText()).includes(PAYLOAD), 'the offer does not show the literal payload');
    await inert(onc, 'inbox');
    await coord.page.goto('/queue');
    const row = coord.page.locator(`#queue tr[data-consult-id="${id}"]`);
    await row.waitFor();
    check((await row.locator('td[data-label="Question"]').innerText()).includes('<img src=x'), 'the queue does not show the literal payload');
    await inert(coord, 'queue');
    for (const p of [coord, ref, onc]) await consultInert(p, id, { message: 'Message <img' });
  });

  await step('xss: the coordinator\'s dialog works by keyboard, traps focus and closes on Escape', async () => {
    check(id, 'no consult');
    const c = coord.page;
    await c.goto('/queue');
    const manage = c.locator(`#queue tr[data-consult-id="${id}"] button[data-action="manage"]`);
    await manage.focus();
    await c.keyboard.press('Enter');
    await c.locator('dialog[open]').waitFor();
    for (let i = 0; i < 25; i++) {
      await c.keyboard.press('Tab');
      const inside = await c.evaluate(() => !!document.activeElement?.closest('dialog[open]') || document.activeElement === document.body);
      check(inside, `focus left the dialog after ${i + 1} Tab presses`);
    }
    await c.keyboard.press('Escape');
    await c.locator('dialog[open]').waitFor({ state: 'detached' });
    // The queue may re-render under a live update just then; the focus must still come back.
    const back = await c.waitForFunction(() => document.activeElement?.dataset.action === 'manage', null, { timeout: 3000 }).then(() => true, () => false);
    check(back, `focus did not return to the Manage button (it is on ${await c.evaluate(() => document.activeElement?.outerHTML?.slice(0, 80))})`);
  });

  await step('xss: coordinator changes the urgency', async () => {
    check(id, 'no consult');
    const c = coord.page;
    await c.goto(`/consults/${id}`);
    await c.locator('#coord-box:not([hidden]) .part-urgency').waitFor();
    await c.locator('#d-urgency').selectOption('emergent');
    await c.locator('#d-urgency-reason').fill('Rising fever, reviewed by phone');
    await c.locator('.part-urgency button[type=submit]').click();
    const out = c.locator('.part-urgency .form-status');
    await c.waitForFunction(() => { const t = document.querySelector('.part-urgency .form-status')?.textContent || ''; return t && !/Working/.test(t); });
    const text = await out.innerText();
    if (/not available on this server/.test(text)) pending('POST /api/v1/consults/{id}/urgency answers 404');
    check(/Done/.test(text), `urgency change: "${text}"`);
    await c.locator(`#consult-detail[data-consult-id="${id}"] .badge.urgency-emergent`).waitFor();
  });

  await step('xss: coordinator snoozes the alarm', async () => {
    check(id, 'no consult');
    const res = await api(coord, 'POST', `/api/v1/consults/${id}/snooze`, { minutes: 15, reason: 'probe' });
    if (missing(res)) pending('POST /api/v1/consults/{id}/snooze answers 404');
    check(res.status < 300 || res.status === 409, `snooze: ${res.status} ${JSON.stringify(res.body)}`);
  });

  await step('xss: an offer assigned to someone else leaves the holder\'s inbox live, with a notice', async () => {
    check(id, 'no consult');
    // Whoever routing offered it to (onc1 or onc2) holds it; the coordinator gives it to the other.
    const offered = await waitFor(async () => {
      const c = (await api(coord, 'GET', `/api/v1/consults/${id}`)).body;
      const holders = (c?.offers || (c?.offer ? [c.offer] : [])).map((o) => o.specialist_id);
      return c?.status === 'offered' && holders.find((h) => h === 'u-onc1' || h === 'u-onc2');
    }, 'the consult is not offered to onc1 or onc2');
    const holder = offered === 'u-onc1' ? onc : await signIn(await person(shared.browser, 'specialist (onc2)'), 'onc2');
    const other = offered === 'u-onc1' ? 'u-onc2' : 'u-onc1';
    await holder.page.goto('/inbox');
    const card = holder.page.locator(`#offers li[data-consult-id="${id}"]`);
    await card.waitFor();
    const c = coord.page;
    await c.goto('/queue');
    await c.locator(`#queue tr[data-consult-id="${id}"] button[data-action="manage"]`).click();
    const dlg = c.locator('dialog[open]');
    await dlg.locator(`#dlg-assign option[value="${other}"]`).waitFor({ state: 'attached' });
    await dlg.locator('#dlg-assign').selectOption(other);
    await dlg.locator('.part-assign button[type=submit]').click();
    await c.locator(`#queue tr[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    const name = other === 'u-onc1' ? /Noa Levi/ : /Amir Cohen/;
    check(name.test(await c.locator(`#queue tr[data-consult-id="${id}"] td[data-label="With"]`).innerText()), 'the queue does not name the new assignee');
    await card.waitFor({ state: 'detached' });
    await holder.page.waitForFunction((n) => new RegExp(n).test(document.getElementById('flash')?.textContent || ''), name.source);
    log(`specialist notice: "${await holder.page.locator('#flash').innerText()}"`);
    if (holder !== onc) await holder.context.close();
  });

  await step('xss: the specialist declines an offer with a reason', async () => {
    const other = await submit(ref, `Decline ${Date.now()}: 4-year-old, lymphadenopathy 3 weeks. Biopsy now?`, 'routine');
    // Routing decides when and to whom (its policy may wait a step): decline as whoever holds it.
    const offered = await waitFor(async () => {
      const c = (await api(coord, 'GET', `/api/v1/consults/${other}`)).body;
      return (c?.offers || (c?.offer ? [c.offer] : [])).map((o) => o.specialist_id).find((h) => h === 'u-onc1' || h === 'u-onc2');
    }, 'the routine consult was not offered to onc1 or onc2 within 60 s', 60000).catch(async (e) => {
      const c = (await api(coord, 'GET', `/api/v1/consults/${other}`)).body;
      throw new Error(`${e.message}: status ${c?.status}, offer ${JSON.stringify(c?.offer)}, offers ${JSON.stringify(c?.offers)}, events ${(c?.events || []).map((x) => x.type).join(',')}`);
    });
    const holder = offered === 'u-onc1' ? onc : await signIn(await person(shared.browser, 'specialist (onc2)'), 'onc2');
    const o = holder.page;
    await o.goto('/inbox');
    const card = o.locator(`#offers li[data-consult-id="${other}"]`);
    await card.waitFor();
    await card.locator('button[data-action="decline"]').click();
    await card.locator('.decline-box input[value="capacity"]').check();
    await card.locator('.decline-box textarea').fill(`Back on Sunday ${PAYLOAD}`);
    await card.locator('button[data-action="confirm-decline"]').click();
    await card.waitFor({ state: 'detached' });
    await coord.page.goto(`/consults/${other}`);
    const declined = coord.page.locator('#timeline li[data-type="consult.declined"]');
    await declined.waitFor();
    const text = await declined.innerText();
    check(text.includes(`Back on Sunday ${PAYLOAD}`), `timeline does not show the reason as text: "${text}"`);
    await inert(coord, 'timeline with a decline reason');
    if (holder !== onc) await holder.context.close();
  });
  await ref.context.close();
}
