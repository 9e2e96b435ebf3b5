// The HTTP client: same-origin JSON; failures throw ApiError with the server's
// {error: {code, message, fields}}. Endpoints that answer 404 "no such endpoint"
// are remembered as missing, so their screens hide the feature.
import { strings } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = body?.error || {};
    super(e.message || (status ? strings.genericError : strings.networkError));
    this.status = status; // 0: no answer at all
    this.code = e.code || '';
    this.fields = e.fields || {};
    this.retryAfter = Number(retryAfter) || 0; // seconds
  }

  // retryable: nothing was applied, and the same request (same idempotency key) may be sent again.
  get retryable() { return this.status === 0 || this.status === 429 || this.status >= 500; }
  // missing: the server has no such endpoint (yet).
  get missing() { return this.status === 404 && this.code === 'not_found' && /endpoint/i.test(this.message); }
}

let onUnauthenticated = () => {};
export const setUnauthenticatedHandler = (fn) => { onUnauthenticated = fn; };

// missing endpoints, by a name the screens ask about ("profile", "figures", ...).
const missing = new Set();
export const isMissing = (feature) => missing.has(feature);
export const markMissing = (feature) => missing.add(feature);

export async function api(method, path, body, headers, feature) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
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
