// The HTTP client: same-origin JSON; failures throw ApiError with the server's
// {error: {code, message, fields, problems}}: for an invalid request, fields gives each
// field at fault an English sentence and problems the same fields a code with its bounds
// ({code: 'too_long', max: 2000}; see codes.js and i18n.js problemText). Endpoints that
// answer 404 "no such endpoint" are remembered as missing, so their screens hide the feature.
import { strings, t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body, retryAfter, timedOut) {
    const e = body?.error || {};
    super(e.message || (status ? strings.genericError : strings.networkError));
    this.status = status; // 0: no answer at all (the request may still have arrived)
    this.code = e.code || '';
    this.fields = e.fields || {}; // field → the server's English sentence
    this.problems = e.problems || {}; // field → {code, min, max, allowed}
    this.retryAfter = Number(retryAfter) || 0; // seconds
    this.budget = e.budget || ''; // with rate_limited: which of the user's budgets is spent
    this.timedOut = !!timedOut;
    this.server = e.message || ''; // the server's own words, in English
  }

  // retryable: nothing was applied, and the same request (same idempotency key) may be sent again.
  get retryable() { return this.status === 0 || this.status === 429 || this.status >= 500; }
  // missing: the server has no such endpoint (yet).
  get missing() { return this.status === 404 && this.code === 'not_found' && /endpoint/i.test(this.message); }
}

// What each HTTP status means when the body names no code.
const BY_STATUS = { 400: 'invalid', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 429: 'rate_limited', 500: 'internal' };
// errorText words a failure in the interface's language, by its code, else its HTTP status;
// the server's English sentence is only a detail beside it (see dom.js errorNodes).
export function errorText(e) {
  if (!(e instanceof ApiError)) return strings.genericError;
  if (e.missing) return strings.unavailableFeature;
  if (e.status === 0) return e.timedOut ? strings.err.timeout : strings.err.network;
  if (e.code === 'rate_limited' && strings.budget[e.budget]) return t(strings.err.budget, { budget: strings.budget[e.budget] });
  const code = strings.err[e.code] ? e.code : BY_STATUS[e.status] || (e.status >= 500 ? 'unavailable' : '');
  return strings.err[code] || strings.genericError;
}

let onUnauthenticated = () => {};
export const setUnauthenticatedHandler = (fn) => { onUnauthenticated = fn; };

// missing endpoints, by a name the screens ask about ("profile", "figures", ...).
const missing = new Set();
export const isMissing = (feature) => missing.has(feature);
export const markMissing = (feature) => missing.add(feature);

// A request with no answer within this time counts as unanswered (status 0): on a link that
// stalls, a retry (same idempotency key) does better than waiting for ever.
const TIMEOUT_MS = 25000;

export async function api(method, path, body, headers, feature) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  let res;
  let data = null;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: ctl.signal,
      headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // A body that is not JSON is no body; one cut off on its way is no answer.
    if (res.status !== 204) data = await res.json().catch((err) => { if (err?.name === 'SyntaxError') return null; throw err; });
  } catch {
    throw new ApiError(0, null, 0, ctl.signal.aborted);
  } finally {
    clearTimeout(timer);
  }
  if (res.ok) return data;
  if (res.status === 401 && path !== '/api/v1/session') onUnauthenticated();
  const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
  if (feature && (err.missing || res.status === 405)) missing.add(feature);
  throw err;
}

// upload sends a file as the raw body with its progress (0..1); the answer is the JSON body.
export function upload(path, blob, name, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    x.setRequestHeader('Content-Type', blob.type || 'application/octet-stream');
    x.setRequestHeader('X-Filename', encodeURIComponent(name));
    x.setRequestHeader('Accept', 'application/json');
    x.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    x.onerror = x.ontimeout = () => reject(new ApiError(0));
    x.onload = () => {
      let data = null;
      try { data = JSON.parse(x.responseText); } catch { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) { resolve(data); return; }
      if (x.status === 401) onUnauthenticated();
      const err = new ApiError(x.status, data, x.getResponseHeader('Retry-After'));
      if (err.missing || x.status === 405) missing.add('attachments');
      reject(err);
    };
    x.send(blob);
  });
}

export const enc = encodeURIComponent;

// newKey makes an idempotency key; randomUUID needs a secure context, hence the fallback.
export const newKey = () => crypto.randomUUID?.()
  || [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
