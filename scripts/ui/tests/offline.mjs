// 2. Typed work is never lost: a draft survives a reload; a submit while offline says
// plainly that it is waiting and has NOT reached the hospital, and locks the form, also in
// a second tab; back online it is sent exactly once (same Idempotency-Key), the draft is
// cleared and both tabs show the receipt. A request stored by the server whose answer is
// lost is "not confirmed yet", and its retry (same key, same body) finds the same consult.
import { person, signIn, setLocale, step, check, log, api, waitFor, fillDetails, OUT } from '../lib.mjs';
import path from 'node:path';

const receiptId = (page) => page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith('consults.receipt.'))?.[1] || '');
// newReceipt waits for the receipt of a consult other than the one before.
const newReceipt = (page, before, ms) => waitFor(() => page.evaluate((b) => {
  const e = document.getElementById('receipt');
  return e && !e.hidden && e.dataset.consultId && e.dataset.consultId !== b ? e.dataset.consultId : '';
}, before), 'no receipt for the new consult', ms);

export default async function offline(shared) {
  const ref = await signIn(await person(shared.browser, 'referrer (offline)'), 'referrer4');
  await setLocale(ref, 'en');
  const r = ref.page;
  const question = `Offline ${Date.now()}: 12-year-old boy, Hb 6.8 and petechiae. Transfuse before transfer?`;
  // The server is asked from another person's browser: this one's is offline.
  const watcher = shared.coord || ref;
  const mine = async () => {
    const res = await api(watcher, 'GET', '/api/v1/consults?limit=200');
    check(res.status === 200, `GET /api/v1/consults: ${res.status}`);
    return res.body.consults.filter((c) => c.question === question);
  };

  await step('offline: the draft survives a reload', async () => {
    await r.goto('/new');
    await r.locator('#f-specialty option[value="pediatric-hematology"]').waitFor({ state: 'attached' });
    await r.locator('#f-specialty').selectOption('pediatric-hematology');
    await r.locator('#f-urgency').selectOption('urgent');
    await r.locator('#f-age').fill('12');
    await r.locator('#f-sex').selectOption('male');
    await r.locator('#f-question').fill(question);
    await r.locator('#f-summary').fill('Known thalassemia trait. Two days of epistaxis.');
    const details = await fillDetails(r);
    const typed = details ? await r.locator('#details-fields :is(input,select,textarea)').first().inputValue() : '';
    await r.reload();
    await r.locator('#consult-form').waitFor();
    await r.locator('#f-specialty option[value="pediatric-hematology"]').waitFor({ state: 'attached' });
    await waitFor(async () => (await r.locator('#f-specialty').inputValue()) === 'pediatric-hematology', 'specialty not restored');
    const got = { q: await r.locator('#f-question').inputValue(), age: await r.locator('#f-age').inputValue(), urg: await r.locator('#f-urgency').inputValue(), sex: await r.locator('#f-sex').inputValue() };
    check(got.q === question && got.age === '12' && got.urg === 'urgent' && got.sex === 'male', `draft after reload: ${JSON.stringify(got)}`);
    if (details) {
      const again = await r.locator('#details-fields :is(input,select,textarea)').first().inputValue();
      check(again === typed, `specialty field after reload: "${again}", typed "${typed}"`);
    }
  });

  let second = null;
  let before = '';
  await step('offline: a submit while offline waits and says it has NOT reached the hospital', async () => {
    check((await mine()).length === 0, 'the consult exists before it was sent');
    before = await receiptId(r);
    // A second tab of the same user, open on the form.
    second = await ref.context.newPage();
    await second.goto('/new');
    await second.locator('#consult-form').waitFor();
    await ref.context.setOffline(true);
    await r.locator('#f-submit').click();
    await r.locator('#send-status[data-phase="waiting"]').waitFor();
    const text = await r.locator('#send-status').innerText();
    check(/waiting for the connection/i.test(text) && /NOT reached the hospital/.test(text), `status while offline: "${text}"`);
    check(await r.locator('#receipt').isHidden(), 'a receipt shows although nothing was sent');
    const draft = await r.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith('consults.draft.'))?.[1] || '');
    check(draft.includes('"pending":true') && draft.includes('Offline'), 'the pending draft is not kept in localStorage');
    await r.screenshot({ path: path.join(OUT, 'offline-waiting-en.png'), fullPage: true });
    // Still nothing on the server.
    check(!shared.coord || (await mine()).length === 0, 'the consult reached the server while the page was offline');
    check(await r.locator('#f-submit').isDisabled() && await r.locator('#f-locked').isVisible(), 'the pending draft can still be edited');
  });

  await step('offline: the second tab shows the draft locked, being sent from the first', async () => {
    check(second, 'no second tab');
    await second.locator('#send-status[data-phase="elsewhere"]').waitFor();
    check(await second.locator('#f-submit').isDisabled(), 'the second tab lets the pending draft be sent again or changed');
    check((await second.locator('#f-question').inputValue()).startsWith('Offline'), 'the second tab does not show the pending draft');
  });

  await step('offline: back online it is sent exactly once and the draft is cleared', async () => {
    await ref.context.setOffline(false);
    const id = await newReceipt(r, before, 20000);
    // A late duplicate would show up within a retry or two.
    await r.waitForTimeout(1500);
    const found = await mine();
    check(found.length === 1 && found[0].id === id, `consults with this question: ${found.length} (${found.map((c) => c.id)}), want exactly ${id}`);
    const left = await r.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('consults.draft.')));
    check(left.length === 0, `draft still stored: ${left}`);
    check((await r.locator('#f-question').inputValue()) === '', 'the form still holds the sent question');
    // The other tab learns it was sent, shows the same receipt and an empty form.
    check(second, 'no second tab');
    const other = await newReceipt(second, before);
    check(other === id, `the second tab's receipt names ${other}, want ${id}`);
    await waitFor(async () => (await second.locator('#f-question').inputValue()) === '' && !(await second.locator('#f-submit').isDisabled()), 'the second tab still holds the sent draft');
    await second.close();
    log(`offline: sent once as ${id}`);
  });

  await step('offline: a request stored but its answer lost is "not confirmed yet", and the retry finds the same consult', async () => {
    const q = `Lost answer ${Date.now()}: 3-year-old, fever 39.4 and ANC 0.2 after chemotherapy. Admit now?`;
    const posts = [];
    const statuses = [];
    // The first two answers are lost on the way back: the server has the request, the page does not know.
    await r.route('**/api/v1/consults', async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      posts.push({ key: req.headers()['idempotency-key'], body: req.postData() });
      if (posts.length > 2) return route.continue();
      const res = await route.fetch();
      statuses.push(res.status());
      return route.abort('connectionreset');
    });
    try {
      before = await receiptId(r);
      await r.goto('/new');
      await r.locator('#f-specialty option[value="pediatric-hematology"]').waitFor({ state: 'attached' });
      await r.locator('#f-specialty').selectOption('pediatric-hematology');
      await r.locator('#f-urgency').selectOption('urgent');
      await r.locator('#f-age').fill('3');
      await r.locator('#f-sex').selectOption('female');
      await r.locator('#f-question').fill(q);
      await fillDetails(r);
      await r.locator('#f-submit').click();
      await r.locator('#send-status[data-phase="waiting"]').waitFor();
      const text = await r.locator('#send-status').innerText();
      check(/not confirmed yet/i.test(text) && !/NOT reached/.test(text), `status after a lost answer: "${text}"`);
      const id = await newReceipt(r, before, 20000);
      check(posts.length === 3, `${posts.length} requests sent, want 3`);
      check(posts.every((p) => p.key && p.key === posts[0].key), `the retries changed the Idempotency-Key: ${posts.map((p) => p.key)}`);
      check(posts.every((p) => p.body === posts[0].body), 'the retries changed the body sent with the key');
      check(statuses[0] === 201 && statuses[1] === 200, `the server answered ${statuses} to the lost tries, want 201 then 200 (the same consult)`);
      const res = await api(watcher, 'GET', '/api/v1/consults?limit=200');
      const found = res.body.consults.filter((c) => c.question === q);
      check(found.length === 1 && found[0].id === id, `consults with this question: ${found.length}, want exactly ${id}`);
      log(`offline: lost answers, one consult ${id}`);
    } finally {
      await r.unroute('**/api/v1/consults');
    }
  });
  await ref.context.close();
}
