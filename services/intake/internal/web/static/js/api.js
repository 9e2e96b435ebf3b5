// The HTTP client: same-origin JSON; failures throw ApiError with the server's
// {error: {code, message, fields}}.
import { strings } from './strings.js';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = body?.error || {};
    super(e.message || (status ? strings.genericError : strings.networkError));
    this.status = status; // 0: no answer at all
    this.fields = e.fields || {};
    this.retryAfter = Number(retryAfter) || 0; // seconds
  }

  // retryable: nothing was applied, and the same request (same idempotency key) may be sent again.
  get retryable() { return [0, 429, 502, 503, 504].includes(this.status); }
}

let onUnauthenticated = () => {};
export const setUnauthenticatedHandler = (fn) => { onUnauthenticated = fn; };

export async function api(method, path, body, headers) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  if (res.status === 401 && path !== '/api/v1/session') onUnauthenticated();
  throw new ApiError(res.status, data, res.headers.get('Retry-After'));
}

export const enc = encodeURIComponent;

// newKey makes an idempotency key; randomUUID needs a secure context, hence the fallback.
export const newKey = () => crypto.randomUUID?.()
  || [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
