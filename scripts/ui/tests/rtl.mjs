// 3. Mirroring: in Arabic and Hebrew a field's label sits at the right edge above its
// input (html dir=rtl); in English at the left.
import path from 'node:path';
import { person, signIn, setLocale, step, check, pending, fillDetails, api, OUT } from '../lib.mjs';

export default async function rtl(shared) {
  const ref = await signIn(await person(shared.browser, 'referrer (rtl)'), 'referrer2');
  const r = ref.page;
  const boxes = async () => {
    await r.goto('/new');
    await r.locator('#f-age').waitFor();
    return r.evaluate(() => {
      const box = (el) => { const b = el.getBoundingClientRect(); return { left: b.left, right: b.right, top: b.top, bottom: b.bottom }; };
      return { dir: document.documentElement.dir, label: box(document.querySelector('label[for="f-age"]')), input: box(document.getElementById('f-age')),
        qLabel: box(document.querySelector('label[for="f-question"]')), q: box(document.getElementById('f-question')), align: getComputedStyle(document.querySelector('label[for="f-age"]')).textAlign };
    });
  };
  for (const lang of ['ar', 'he']) {
    await step(`rtl: ${lang} mirrors the form`, async () => {
      await setLocale(ref, lang);
      const b = await boxes();
      check(b.dir === 'rtl', `html dir is ${b.dir}`);
      check(b.label.right >= b.input.right - 2, `label right ${b.label.right} is left of input right ${b.input.right}`);
      check(b.label.bottom <= b.input.top + 2, 'label is not above its input');
      check(b.qLabel.right >= b.q.right - 2, 'question label is not at the right');
      // The label hugs the right: its text starts there.
      const labelWidth = await r.evaluate(() => { const l = document.querySelector('label[for="f-age"]'); const range = document.createRange(); range.selectNodeContents(l); return range.getBoundingClientRect(); });
      check(labelWidth.right >= b.input.right - 2, `label text ends at ${labelWidth.right}, input right is ${b.input.right}`);
    });
  }
  await step('rtl: units keep their left-to-right order in Arabic labels (<bdi dir=ltr>)', async () => {
    await setLocale(ref, 'ar');
    await r.goto('/new');
    await r.locator('#f-specialty option[value="pediatric-oncology"]').waitFor({ state: 'attached' });
    await r.locator('#f-specialty').selectOption('pediatric-oncology');
    const spec = (await api(ref, 'GET', '/api/v1/specialties')).body?.specialties?.find((s) => s.slug === 'pediatric-oncology');
    const withUnit = spec?.form?.find((f) => f.unit === '×10⁹/L');
    if (!withUnit) pending('no field with the unit ×10⁹/L in the pediatric-oncology form');
    const got = await r.evaluate((key) => {
      const bdi = document.querySelector(`label[for="f-d-${key}"] bdi`);
      if (!bdi) return null;
      // In left-to-right order the "×" comes first, at the left; the "L" last, at the right.
      const range = document.createRange();
      const text = bdi.firstChild;
      range.setStart(text, 0); range.setEnd(text, 1);
      const first = range.getBoundingClientRect().left;
      range.setStart(text, text.length - 1); range.setEnd(text, text.length);
      const last = range.getBoundingClientRect().left;
      return { dir: bdi.getAttribute('dir'), text: bdi.textContent, first, last, label: bdi.parentElement.textContent };
    }, withUnit.key);
    check(got, `the label of ${withUnit.key} has no <bdi> for its unit`);
    check(got.dir === 'ltr' && got.text === '×10⁹/L', `unit: ${JSON.stringify(got)}`);
    check(got.first < got.last, `the unit reads right to left: "×" at ${got.first}, "L" at ${got.last}`);
  });
  await step('rtl: English keeps labels at the left', async () => {
    await setLocale(ref, 'en');
    const b = await boxes();
    check(b.dir === 'ltr', `html dir is ${b.dir}`);
    check(b.label.left <= b.input.left + 2, `label left ${b.label.left} is right of input left ${b.input.left}`);
    const text = await r.evaluate(() => { const l = document.querySelector('label[for="f-age"]'); const range = document.createRange(); range.selectNodeContents(l); return range.getBoundingClientRect(); });
    check(text.left <= b.input.left + 2, `label text starts at ${text.left}, input left is ${b.input.left}`);
  });
  await step('rtl: inline errors in the user\'s language, from the page and from the server (details.<key>)', async () => {
    await setLocale(ref, 'ar');
    await r.goto('/new');
    await r.locator('#f-specialty option[value="pediatric-oncology"]').waitFor({ state: 'attached' });
    await r.locator('#f-submit').click();
    const q = r.locator('#f-question');
    await r.locator('#f-question[aria-invalid="true"]').waitFor();
    check((await q.getAttribute('aria-describedby')).includes('f-question-error'), 'the question does not point at its error');
    check(await r.locator('#f-question-error').innerText() === 'هذا الحقل مطلوب.', `error text: "${await r.locator('#f-question-error').innerText()}"`);
    const spec = (await api(ref, 'GET', '/api/v1/specialties')).body?.specialties?.find((s) => s.slug === 'pediatric-oncology');
    const num = spec?.form?.find((f) => f.type === 'number' && f.max != null);
    if (!num) pending('no number field with a maximum in the pediatric-oncology form');
    await r.locator('#f-specialty').selectOption('pediatric-oncology');
    await r.locator('#f-urgency').selectOption('routine');
    await r.locator('#f-age').fill('5');
    await r.locator('#f-sex').selectOption('female');
    await r.locator('#f-question').fill('Validation check: out-of-range value');
    await fillDetails(r);
    // Past the page's own check, so that the server's 400 names the field.
    const el = r.locator(`[name="details.${num.key}"]`);
    await el.evaluate((e) => e.removeAttribute('max'));
    await el.fill(String(num.max * 1000 + 1));
    await r.locator('#f-submit').click();
    await r.locator(`[name="details.${num.key}"][aria-invalid="true"]`).waitFor().catch(async (e) => {
      throw new Error(`${e.message.split('\n')[0]}; the page says: "${await r.locator('#send-status').innerText()}", receipt shown: ${await r.locator('#receipt').isVisible()}`);
    });
    const msg = await r.locator(`#${await el.getAttribute('id')}-error`).innerText();
    check(msg.length > 0, 'no message next to the field the server refused');
    // The server's problem code (too_large or out_of_range, with its bound) is worded in Arabic,
    // not its English sentence.
    check(/[\u0600-\u06FF]/.test(msg) && !/must|between/i.test(msg), `the server's refusal is not worded in Arabic: "${msg}"`);
    await el.scrollIntoViewIfNeeded();
    await r.screenshot({ path: path.join(OUT, 'rtl-server-refusal-ar.png'), fullPage: false });
    check(await r.locator('#receipt').isHidden(), 'a refused consult shows a receipt');
    // The same refusal in Hebrew: the code is worded again in the page's new language.
    await setLocale(ref, 'he');
    await el.evaluate((e) => e.removeAttribute('max'));
    await r.locator('#f-submit').click();
    await r.locator(`[name="details.${num.key}"][aria-invalid="true"]`).waitFor();
    const he = await r.locator(`#${await el.getAttribute('id')}-error`).innerText();
    check(/[\u0590-\u05FF]/.test(he) && !/must|between/i.test(he), `the server's refusal is not worded in Hebrew: "${he}"`);
    await el.scrollIntoViewIfNeeded();
    await r.screenshot({ path: path.join(OUT, 'rtl-server-refusal-he.png'), fullPage: false });
    await r.locator('#f-clear').click();
    await setLocale(ref, 'ar');
  });
  await step('rtl: the skip link moves the focus to the content, and the screen keeps what was typed', async () => {
    await r.goto('/new');
    await r.locator('#f-question').fill('Typed before skipping');
    await r.locator('a.skip').focus();
    await r.keyboard.press('Enter');
    await r.waitForTimeout(100);
    const got = await r.evaluate(() => ({ focus: document.activeElement?.id, hash: location.hash, q: document.getElementById('f-question')?.value }));
    check(got.focus === 'app', `focus is on "${got.focus}", want the content (#app)`);
    check(got.q === 'Typed before skipping', `the form was rebuilt: the question holds "${got.q}"`);
    await r.locator('#f-clear').click();
  });
  await ref.context.close();
}
