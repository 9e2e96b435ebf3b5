// 8. Budgets: a browser that opens more live connections than one sign-in may gets the upgrade
// refused, while the page's own connection stays live; the coordinators see who was held back,
// by which limit and how often, in English, Arabic and Hebrew and on a 360 px phone; a refusal
// reads in the user's language, naming the limit.
import { person, signIn, setLocale, step, check, pending, api, missing, waitFor } from '../lib.mjs';
import { shoot } from './screens.mjs';

export default async function budgets(shared) {
  const ref = await signIn(await person(shared.browser, 'referrer (many tabs)'), 'referrer3');
  const coord = await signIn(await person(shared.browser, 'coordinator (limits)'), 'coord2');
  if (missing(await api(coord, 'GET', '/api/v1/throttled'))) {
    await Promise.all([ref.context.close(), coord.context.close()]);
    pending('GET /api/v1/throttled answers 404');
  }
  await step('budgets: connections beyond one sign-in\'s limit are refused, the page stays live', async () => {
    const got = await ref.page.evaluate(async () => {
      const url = `ws://${location.host}/api/v1/stream`;
      // One after the other, as tabs opened in turn: a burst at once may have a few more refused.
      const tries = [];
      for (let i = 0; i < 12; i++) {
        tries.push(await new Promise((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve({ ws, open: true });
          ws.onerror = () => resolve({ ws, open: false });
        }));
      }
      const open = tries.filter((x) => x.open).length;
      for (const x of tries) x.ws.close();
      return { open, refused: tries.length - open };
    });
    // The page's own stream holds one of the sign-in's 10 places.
    check(got.open === 9 && got.refused === 3, `got ${got.open} opened and ${got.refused} refused of 12, want 9 and 3`);
    check(await ref.page.locator('#conn[data-state="live"]').count() === 1, 'the page lost its own live connection');
  });
  await step('budgets: the coordinators see who was held back', async () => {
    await setLocale(coord, 'en');
    await coord.page.goto('/figures');
    const row = coord.page.locator('#throttled tr[data-user-id="u-referrer3"][data-budget="stream_sockets_per_session"]');
    await waitFor(async () => {
      if (await row.count()) return true;
      await coord.page.reload();
      await coord.page.locator('#throttled-list').waitFor();
      return false;
    }, 'the refusals do not show in the coordinators\' list');
    const text = await row.innerText();
    check(/Live connections of one sign-in/.test(text) && /\b3\b/.test(text) && !/u-referrer3/.test(text), `the row reads "${text}"`);
    for (const lang of ['en', 'ar', 'he']) {
      await setLocale(coord, lang);
      await row.waitFor();
      await coord.page.locator('#throttled').scrollIntoViewIfNeeded();
      await shoot(coord, `throttled-${lang}`, lang);
    }
    await setLocale(coord, 'en');
  });
  await step('budgets: the list on a 360 px phone in Arabic', async () => {
    const phone = await signIn(await person(shared.browser, 'coordinator (phone, limits)', { viewport: { width: 360, height: 740 } }), 'coord2');
    await setLocale(phone, 'ar');
    await phone.page.goto('/figures');
    await phone.page.locator('#throttled tr[data-user-id="u-referrer3"]').first().waitFor();
    await shoot(phone, 'throttled-360-ar', 'ar');
    await setLocale(phone, 'en');
    await phone.context.close();
  });
  await step('budgets: a refusal names the limit in the user\'s language', async () => {
    await setLocale(ref, 'ar');
    const text = await ref.page.evaluate(async () => {
      const { ApiError, errorText } = await import('/static/js/api.js');
      return errorText(new ApiError(429, { error: { code: 'rate_limited', budget: 'emergent_submissions', message: 'too many' } }, '60'));
    });
    check(text.includes('طلبات الاستشارة الطارئة'), `the Arabic refusal reads "${text}"`);
    await setLocale(ref, 'en');
  });
  await Promise.all([ref.context.close(), coord.context.close()]);
}
