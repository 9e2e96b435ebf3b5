// 2. Typed work is never lost: a draft survives a reload; a submit while offline says
// plainly that it is waiting and has NOT reached the hospital; back online it is sent
// exactly once (same Idempotency-Key) and the draft is cleared.
import { person, signIn, setLocale, step, check, log, api, waitFor, fillDetails, OUT } from '../lib.mjs';
import path from 'node:path';

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

  await step('offline: a submit while offline waits and says it has NOT reached the hospital', async () => {
    check((await mine()).length === 0, 'the consult exists before it was sent');
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
  });

  await step('offline: back online it is sent exactly once and the draft is cleared', async () => {
    await ref.context.setOffline(false);
    await r.locator('#receipt[data-consult-id]').waitFor({ timeout: 20000 });
    const id = await r.locator('#receipt').getAttribute('data-consult-id');
    // A late duplicate would show up within a retry or two.
    await r.waitForTimeout(1500);
    const found = await mine();
    check(found.length === 1 && found[0].id === id, `consults with this question: ${found.length} (${found.map((c) => c.id)}), want exactly ${id}`);
    const left = await r.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('consults.draft.')));
    check(left.length === 0, `draft still stored: ${left}`);
    check((await r.locator('#f-question').inputValue()) === '', 'the form still holds the sent question');
    log(`offline: sent once as ${id}`);
  });
  await ref.context.close();
}
