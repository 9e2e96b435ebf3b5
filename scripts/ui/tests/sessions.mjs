// 7. Signed-in devices: the same person signed in on two browsers sees both under Devices (this
// one marked) and signs the other out from here; the other browser is signed out live, without
// a reload. "Sign out all other devices" does the same for every other one. Every role reaches
// the page from the header; it is shown in English, Arabic and Hebrew and on a 360 px phone.
import { person, signIn, setLocale, step, check, pending, api, missing, waitFor } from '../lib.mjs';
import { shoot } from './screens.mjs';

const rows = (p) => p.page.locator('#sessions li[data-session-id]');
const signedOut = (p) => p.page.locator('#login-username').waitFor();

export default async function sessions(shared) {
  const desk = await signIn(await person(shared.browser, 'specialist (desk)'), 'hem2');
  const laptop = await signIn(await person(shared.browser, 'specialist (laptop)'), 'hem2');
  if (missing(await api(desk, 'GET', '/api/v1/me/sessions'))) {
    await Promise.all([desk.context.close(), laptop.context.close()]);
    pending('GET /api/v1/me/sessions answers 404');
  }
  const d = desk.page;
  await step('sessions: both browsers are listed from the header, this one marked', async () => {
    await d.locator('#nav-sessions').click();
    await d.locator('#sessions-view').waitFor();
    await waitFor(async () => (await rows(desk).count()) >= 2, 'the list does not show both sessions');
    check(await d.locator('#sessions li.current').count() === 1, 'not exactly one session is marked as this one');
    const ids = await rows(desk).evaluateAll((els) => els.map((e) => e.dataset.sessionId));
    const cookies = [...await desk.context.cookies(), ...await laptop.context.cookies()].map((c) => c.value);
    check(!ids.some((id) => cookies.includes(id)), 'a session id shown on the page is a session cookie');
    check(await d.locator('#sessions li.current button').count() === 0, 'this session has its own sign-out button (Log out does that)');
  });
  await step('sessions: signing the other browser out signs it out there, live', async () => {
    const other = d.locator('#sessions li[data-session-id]:not(.current)').first();
    await other.locator('button[data-action="end"]').click();
    await signedOut(laptop);
    check(new URL(laptop.page.url()).pathname === '/login', `the laptop shows ${laptop.page.url()}, want the sign-in page`);
    await waitFor(async () => (await rows(desk).count()) === 1, 'the ended session is still listed');
    check(await d.locator('#sessions-none').isVisible(), 'no "no other device" line once alone');
    check(await d.locator('#sessions-end-others').isDisabled(), '"Sign out all other devices" stays enabled with no other device');
    const me = await api(desk, 'GET', '/api/v1/session');
    check(me.status === 200, `the desk's own session answers ${me.status}, want it kept`);
  });
  await step('sessions: "Sign out all other devices" signs every other one out, live', async () => {
    const phone = await signIn(await person(shared.browser, 'specialist (phone)', { viewport: { width: 360, height: 740 } }), 'hem2');
    await signIn(laptop, 'hem2');
    await d.reload();
    await waitFor(async () => (await rows(desk).count()) === 3, 'the list does not show three sessions after a reload');
    await d.locator('#sessions-end-others').click();
    await Promise.all([signedOut(phone), signedOut(laptop)]);
    await waitFor(async () => (await rows(desk).count()) === 1, 'the others are still listed');
    check((await api(desk, 'GET', '/api/v1/session')).status === 200, 'the desk itself was signed out');
    await phone.context.close();
  });
  await step('sessions: the page in English, Arabic and Hebrew, mirrored', async () => {
    await signIn(laptop, 'hem2');
    for (const lang of ['en', 'ar', 'he']) {
      await setLocale(desk, lang);
      await d.goto('/sessions');
      await waitFor(async () => (await rows(desk).count()) === 2, `the list in ${lang} does not show both sessions`);
      const row = d.locator('#sessions li[data-session-id]:not(.current)').first();
      const [name, btn] = await Promise.all([row.locator('.session-device').boundingBox(), row.locator('button').boundingBox()]);
      if (lang === 'en') check(name.x < btn.x, 'in English the sign-out button is not at the end (right) of the row');
      else check(name.x + name.width > btn.x + btn.width, `in ${lang} the sign-out button is not at the end (left) of the row`);
      await shoot(desk, `sessions-${lang}`, lang);
    }
    await setLocale(desk, 'en');
  });
  await step('sessions: the page on a 360 px phone in Arabic', async () => {
    const phone = await signIn(await person(shared.browser, 'specialist (phone, ar)', { viewport: { width: 360, height: 740 }, locale: 'ar' }), 'hem2');
    await setLocale(phone, 'ar');
    await phone.page.locator('#nav-sessions').click();
    await waitFor(async () => (await rows(phone).count()) === 3, 'the phone does not list three sessions');
    await shoot(phone, 'sessions-360-ar', 'ar');
    await setLocale(phone, 'en');
    await phone.context.close();
  });
  await Promise.all([desk.context.close(), laptop.context.close()]);

  await step('sessions: every role reaches its devices from the header', async () => {
    for (const username of ['referrer4', 'coord2', 'admin1']) {
      const p = await person(shared.browser, `${username} (devices)`);
      await p.page.goto('/');
      await p.page.locator('#login-username').fill(username);
      await p.page.locator('#login-password').fill('demo');
      await p.page.locator('#login-submit').click();
      await p.page.locator('#nav-sessions').click();
      await p.page.locator('#sessions li.current').waitFor();
      check(new URL(p.page.url()).pathname === '/sessions', `${username} is at ${p.page.url()}, want /sessions`);
      await p.context.close();
    }
  });
}
