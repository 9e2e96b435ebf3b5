// Browser smoke test of the clinicians' app against a running consultd --demo.
//
//   cd scripts/ui && npm ci && BASE_URL=http://127.0.0.1:8080 OUT=/tmp/ui-smoke node smoke.mjs
//
// Three people in three browser contexts: referrer1 sends an emergent
// pediatric-oncology consult whose question carries an HTML payload; onc1 sees the
// offer arrive live (the tab title counts it) and accepts it; referrer1 sees "accepted" live; coord1's queue
// lists it. The payload must show as text everywhere, and no dialog may open.
// Saves one screenshot per role in OUT and exits non-zero on any failure.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

const BASE = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const OUT = process.env.OUT || 'ui-smoke-out';
const PAYLOAD = '<img src=x onerror=alert(1)>';
const QUESTION = `7-year-old with a new mediastinal mass and fever. ${PAYLOAD} Start steroids before biopsy?`;
const STEP_MS = 15000;
const TOTAL_MS = 120000;

const problems = [];
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

const watchdog = setTimeout(() => {
  console.error(`FAIL: the smoke test did not finish within ${TOTAL_MS / 1000} s`);
  process.exit(1);
}, TOTAL_MS);

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function signIn(browser, role, username, viewport) {
  const context = await browser.newContext({ viewport, baseURL: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('dialog', (d) => {
    problems.push(`${role}: a ${d.type()} dialog opened ("${d.message()}"): script ran from clinical text?`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`${role}: uncaught page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to (load|execute|apply)/i.test(m.text())) {
      problems.push(`${role}: CSP violation: ${m.text()}`);
    }
  });
  await page.goto('/');
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill('demo');
  await page.locator('#login-submit').click();
  // Either the header appears or the form says why not (wrong password, 429 rate limit, ...).
  await page.locator('#whoami, #login-error:not(:empty)').first().waitFor();
  const refused = await page.evaluate(() => document.querySelector('#login-error')?.textContent || '');
  check(!refused, `${role}: sign-in as ${username} failed: ${refused}`);
  await page.locator('#conn[data-state="live"]').waitFor();
  log(`${role}: signed in as ${username}, live stream connected`);
  return { role, context, page };
}

// noMarkup checks that the payload is on the page as text and created no element.
async function noMarkup(p, where) {
  const imgs = await p.page.locator('img').count();
  check(imgs === 0, `${p.role}: ${imgs} <img> element(s) on the page: the question was parsed as HTML (${where})`);
  const shown = await p.page.getByText(PAYLOAD, { exact: false }).count();
  check(shown > 0, `${p.role}: the literal text ${PAYLOAD} is not shown (${where})`);
}

async function main() {
  await mkdir(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  const people = [];
  try {
    const coord = await signIn(browser, 'coordinator', 'coord1', { width: 1280, height: 800 });
    const onc = await signIn(browser, 'specialist', 'onc1', { width: 1100, height: 800 });
    const ref = await signIn(browser, 'referrer', 'referrer1', { width: 390, height: 844 });
    people.push(coord, onc, ref);
    await coord.page.locator('#queue').waitFor();
    await onc.page.locator('#offers').waitFor();

    // referrer1 sends the consult.
    const r = ref.page;
    await r.locator('#consult-form').waitFor();
    await r.locator('#f-specialty option[value="pediatric-oncology"]').waitFor({ state: 'attached' });
    await r.locator('#f-specialty').selectOption('pediatric-oncology');
    await r.locator('#f-urgency').selectOption('emergent');
    await r.locator('#f-age').fill('7');
    await r.locator('#f-sex').selectOption('female');
    await r.locator('#f-reference').fill('HEB-SMOKE-1');
    await r.locator('#f-question').fill(QUESTION);
    await r.locator('#f-summary').fill('CBC: WBC 18.2, Hb 9.1, Plt 110. Chest X-ray: widened mediastinum.');
    await r.locator('#f-submit').click();
    const receipt = r.locator('#receipt[data-consult-id]');
    await receipt.waitFor();
    const id = await receipt.getAttribute('data-consult-id');
    const receiptText = await receipt.innerText();
    check(/Received by the hospital at \d\d:\d\d/.test(receiptText), `referrer: receipt does not say when it was received: "${receiptText}"`);
    log(`referrer: consult ${id} received: "${receiptText.split('\n')[0]}"`);

    // onc1 sees the offer arrive without reloading, with the payload as text, and accepts.
    const o = onc.page;
    const card = o.locator(`#offers li[data-consult-id="${id}"]`);
    await card.waitFor();
    const cardText = await card.locator('.question').innerText();
    check(cardText.includes(PAYLOAD), `specialist: offer shows "${cardText}", not the literal question`);
    check(await card.locator('.clock').count() === 1, 'specialist: offer has no countdown');
    await noMarkup(onc, 'inbox');
    // The tab title counts the live offers onc1 holds.
    await o.waitForFunction(() => document.title.startsWith('(1)'), null, { timeout: 3000 }).catch(() => {});
    const title = await o.title();
    check(title.startsWith('(1)'), `specialist: tab title is "${title}", want it to start with "(1)"`);
    log(`specialist: live offer arrived with countdown, tab title "${title}"; accepting`);
    await onc.page.screenshot({ path: path.join(OUT, 'specialist-offer.png'), fullPage: true });
    await card.locator('button[data-action="accept"]').click();
    await o.locator(`#consult-detail[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    await noMarkup(onc, 'consult detail');
    log('specialist: accepted, detail page shows status accepted');

    // referrer1's page turns to accepted live.
    await r.locator(`#receipt[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    const accepted = await receipt.innerText();
    check(!/being routed/.test(accepted), `referrer: receipt does not name who has it: "${accepted}"`);
    log(`referrer: receipt updated live: "${accepted.split('\n')[0]}"`);
    await receipt.locator('a').click();
    await r.locator(`#consult-detail[data-consult-id="${id}"][data-status="accepted"]`).waitFor();
    await noMarkup(ref, 'consult detail');

    // coord1's queue lists it as accepted.
    const row = coord.page.locator(`#queue tr[data-consult-id="${id}"]`);
    await row.locator('[data-status="accepted"]').waitFor();
    await noMarkup(coord, 'queue');
    log('coordinator: queue row shows the consult, accepted');

    await r.waitForTimeout(500); // let any late script run before the final checks
    for (const p of people) await p.page.screenshot({ path: path.join(OUT, `${p.role}.png`), fullPage: true });
    log(`screenshots saved in ${OUT}`);
  } catch (e) {
    problems.push(e.message.split('\n')[0]);
    for (const p of people) await p.page.screenshot({ path: path.join(OUT, `${p.role}-failure.png`), fullPage: true }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
  }
}

main()
  .catch((e) => problems.push(`smoke test crashed: ${e.message}`))
  .finally(() => {
    clearTimeout(watchdog);
    if (problems.length) {
      for (const p of problems) console.error(`FAIL: ${p}`);
      process.exit(1);
    }
    console.log('PASS: ui smoke (referrer → live offer → accept → live status → queue, clinical text inert)');
  });
