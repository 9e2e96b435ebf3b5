// Browser tests of the clinicians' app against a running consultd --demo, in Debian's
// headless Chromium:
//
//   cd scripts/ui && npm ci && BASE_URL=http://127.0.0.1:8080 OUT=artifacts node run.mjs
//
// Each test is a module of tests/; they share one browser and run in order. A step whose
// backend endpoint is not there yet (404) is reported PENDING, not failed. Screenshots go
// to OUT. Exits non-zero on any failure.
import { mkdir } from 'node:fs/promises';
import { launch, results, problems, log, OUT } from './lib.mjs';
import flow from './tests/flow.mjs';
import offline from './tests/offline.mjs';
import rtl from './tests/rtl.mjs';
import xss from './tests/xss.mjs';
import screens from './tests/screens.mjs';
import logout from './tests/logout.mjs';
import sessions from './tests/sessions.mjs';
import budgets from './tests/budgets.mjs';

const TOTAL_MS = 300000;
const watchdog = setTimeout(() => { console.error(`FAIL: the browser tests did not finish within ${TOTAL_MS / 1000} s`); process.exit(1); }, TOTAL_MS);
const only = (process.env.ONLY || '').split(',').filter(Boolean);

async function main() {
  await mkdir(OUT, { recursive: true });
  const browser = await launch();
  const shared = { browser, people: [] };
  try {
    for (const [name, test] of Object.entries({ flow, offline, rtl, xss, screens, logout, sessions, budgets })) {
      if (only.length && !only.includes(name)) continue;
      log(`== ${name}`);
      try {
        await test(shared);
      } catch (e) {
        results.failed.push(`${name}: crashed: ${e.message.split('\n')[0]}`);
      }
    }
  } finally {
    await browser.close().catch(() => {});
  }
}

main()
  .catch((e) => results.failed.push(`browser tests crashed: ${e.message}`))
  .finally(() => {
    clearTimeout(watchdog);
    for (const p of problems) results.failed.push(p);
    console.log('');
    for (const p of results.pending) console.log(`PENDING: ${p}`);
    for (const f of results.failed) console.error(`FAIL: ${f}`);
    console.log(`ui: ${results.passed.length} passed, ${results.failed.length} failed, ${results.pending.length} pending`);
    process.exit(results.failed.length ? 1 : 0);
  });
