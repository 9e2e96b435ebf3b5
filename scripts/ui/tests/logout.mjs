// 6. A shared clinic computer: what a referrer typed (a consult draft with patient details, a
// reply in a thread) is gone from the browser once they log out, and the next person who signs
// in on it finds an empty form. Another user's draft on the same browser stays.
import { person, signIn, step, check } from '../lib.mjs';

export default async function logout(shared) {
  const p = await signIn(await person(shared.browser, 'referrer (shared computer)'), 'referrer1');
  const r = p.page;
  const draftKeys = () => r.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('consults.')));
  await step('logout: the draft with patient details leaves the browser with the user', async () => {
    await r.goto('/new');
    await r.locator('#f-question').fill('Febrile neutropenia, ANC 0.2 — start cefepime?');
    await r.locator('#f-age').fill('6');
    await r.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('consults.draft.')));
    await r.evaluate(() => localStorage.setItem('consults.draft.u-someone-else', '{"values":{"question":"theirs"}}'));
    check((await draftKeys()).length >= 2, `no draft was kept while typing: ${await draftKeys()}`);
    await r.locator('#logout').click();
    await r.locator('#login-username').waitFor();
    const left = await draftKeys();
    check(!left.some((k) => k.includes('referrer') || /consults\.[a-z_-]+\.u-ref/.test(k)), `the referrer's drafts are still stored after logout: ${left}`);
    check(left.includes('consults.draft.u-someone-else'), `another user's draft was removed: ${left}`);
    const text = await r.evaluate(() => JSON.stringify(localStorage));
    check(!text.includes('cefepime'), 'the typed clinical text is still in localStorage after logout');
  });
  await step('logout: the next person on the computer finds an empty form', async () => {
    await signIn(p, 'referrer1');
    await r.goto('/new');
    await r.locator('#f-question').waitFor();
    check(await r.locator('#f-question').inputValue() === '', 'the question typed before logout is back');
  });
  await p.context.close();
}
