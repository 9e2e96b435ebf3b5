// Shared helpers of the browser tests: one Chromium, a context per person, sign-in,
// language switching, polling waits, generated images, and the pass/fail/pending record.
import { chromium } from 'playwright-core';
import { deflateSync } from 'node:zlib';
import path from 'node:path';

export const BASE = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const OUT = process.env.OUT || path.resolve('artifacts');
export const STEP_MS = 15000;
const t0 = Date.now();
export const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

// Pending marks a step whose backend endpoint is not there yet (it answered 404).
export class Pending extends Error {}
export const pending = (msg) => { throw new Pending(msg); };
export function check(ok, message) { if (!ok) throw new Error(message); }

export const results = { passed: [], failed: [], pending: [] };
export async function step(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.passed.push(name);
    log(`PASS ${name} (${((Date.now() - start) / 1000).toFixed(1)}s)`);
    return true;
  } catch (e) {
    if (e instanceof Pending) { results.pending.push(`${name}: ${e.message}`); log(`PENDING ${name}: ${e.message}`); return false; }
    results.failed.push(`${name}: ${e.message.split('\n')[0]}`);
    log(`FAIL ${name}: ${e.message.split('\n').slice(0, 3).join(' | ')}`);
    return false;
  }
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--font-render-hinting=none'],
    timeout: 30000,
  });
}

// problems collects what must never happen on any page: dialogs (script from clinical
// text), uncaught errors, CSP violations.
export const problems = [];
export async function person(browser, label, { viewport = { width: 1280, height: 860 }, locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport, baseURL: BASE, locale, timezoneId: 'Asia/Jerusalem' });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('dialog', (d) => {
    problems.push(`${label}: a ${d.type()} dialog opened ("${d.message()}"): script ran from clinical text?`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`${label}: uncaught page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to (load|execute|apply)/i.test(m.text())) problems.push(`${label}: CSP violation: ${m.text()}`);
  });
  return { label, context, page };
}

export async function signIn(p, username) {
  const { page } = p;
  await page.goto('/');
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill('demo');
  await page.locator('#login-submit').click();
  await page.locator('#whoami, #login-error:not(:empty)').first().waitFor();
  const refused = await page.evaluate(() => document.querySelector('#login-error')?.textContent || '');
  check(!refused, `${p.label}: sign-in as ${username} failed: ${refused}`);
  await page.locator('#conn[data-state="live"]').waitFor();
  p.username = username;
  log(`${p.label}: signed in as ${username}, live stream connected`);
  return p;
}

// setLocale picks a language in the header and waits for the page to take it.
export async function setLocale(p, lang) {
  await p.page.locator('#locale').selectOption(lang);
  await p.page.waitForFunction((l) => document.documentElement.lang === l && document.getElementById('locale')?.value === l, lang);
}

// api calls the server with the person's session (the context's cookies).
export async function api(p, method, url, data) {
  const r = await p.context.request.fetch(BASE + url, { method, data, headers: { Origin: BASE }, failOnStatusCode: false });
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  return { status: r.status(), body };
}
export const missing = (r) => r.status === 404 && /endpoint/i.test(r.body?.error?.message || '');

// png makes a real PNG of w×h pixels (a gradient), large enough to be scaled down.
export function png(w, h) {
  const crcTable = [...Array(256)].map((_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      const i = row + 1 + x * 3;
      raw[i] = (x * 255) / w; raw[i + 1] = (y * 255) / h; raw[i + 2] = ((x ^ y) & 0xff);
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// fillDetails fills every field of the specialty's form with a valid value read from the
// control itself (its type, range and options); it returns how many it filled.
export async function fillDetails(page) {
  const controls = page.locator('#details-fields :is(input,select,textarea)');
  const n = await controls.count();
  for (let i = 0; i < n; i++) {
    const el = controls.nth(i);
    const info = await el.evaluate((c) => ({ tag: c.tagName, type: c.type, min: c.min, max: c.max, opts: [...(c.options || [])].map((o) => o.value).filter(Boolean) }));
    if (info.tag === 'SELECT') await el.selectOption(info.opts.includes('false') ? 'false' : info.opts[0]);
    else if (info.type === 'number') {
      const lo = info.min === '' ? 1 : Number(info.min), hi = info.max === '' ? lo + 10 : Number(info.max);
      await el.fill(String(Math.round((lo + hi) / 2)));
    } else if (info.type === 'date') await el.fill(new Date(Date.now() - 86400000).toISOString().slice(0, 10));
    else await el.fill('3 weeks');
  }
  return n;
}

// waitFor polls fn until it returns a truthy value or the time runs out.
export async function waitFor(fn, message, ms = STEP_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(message);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// imageSize reads the pixel size of a PNG or JPEG.
export function imageSize(buf) {
  if (buf.readUInt32BE(0) === 0x89504e47) return { type: 'png', w: buf.readUInt32BE(16), h: buf.readUInt32BE(20) };
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let i = 2; i < buf.length - 9;) {
      if (buf[i] !== 0xff) { i++; continue; }
      const marker = buf[i + 1];
      const len = buf.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xc3) return { type: 'jpeg', h: buf.readUInt16BE(i + 5), w: buf.readUInt16BE(i + 7) };
      i += 2 + len;
    }
  }
  return null;
}
