// Getting and renewing the JWT the two WebSocket services require: a fixed
// token, a caller-supplied function, or a login with username and password
// (POST /v1/login, docs/api.md) that is repeated shortly before the token
// expires or after a connection was refused.

export interface LoginOptions {
  /** HTTP base URL of ingest, e.g. http://127.0.0.1:8080 */
  url: string;
  username: string;
  password: string;
}

/** The answer of POST /v1/login (docs/api.md). */
export interface LoginResult {
  access_token: string;
  /** Every other member of the server's answer, untouched. */
  [member: string]: unknown;
}

export class LoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

/**
 * `POST {url}/v1/login` with `{username, password}`. Resolves with the answer
 * (`access_token` and whatever else the server sent); rejects with LoginError
 * on a non-2xx answer or one without an access token.
 */
export async function login(
  options: LoginOptions,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<LoginResult> {
  if (typeof fetchImpl !== 'function') {
    throw new Error('no fetch implementation: pass one in the options');
  }
  const url = new URL('/v1/login', options.url).toString();
  const response = await fetchImpl(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: options.username, password: options.password }),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const { code, message } = errorOf(body);
    throw new LoginError(
      `login failed: HTTP ${response.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`,
      response.status,
      code,
    );
  }
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as LoginResult).access_token !== 'string'
  ) {
    throw new LoginError('login answer has no access_token', response.status, undefined);
  }
  return body as LoginResult;
}

/** The error shape of docs/api.md, `{error: {code, message}}`, or a flat `{code, message}`. */
function errorOf(body: unknown): { code?: string; message?: string } {
  if (typeof body !== 'object' || body === null) {
    return {};
  }
  const outer = body as Record<string, unknown>;
  const inner =
    typeof outer['error'] === 'object' && outer['error'] !== null
      ? (outer['error'] as Record<string, unknown>)
      : outer;
  const code = typeof inner['code'] === 'string' ? inner['code'] : undefined;
  const message = typeof inner['message'] === 'string' ? inner['message'] : undefined;
  return { ...(code !== undefined && { code }), ...(message !== undefined && { message }) };
}

/**
 * The `exp` claim (seconds since the epoch) of a JWT, read without checking
 * the signature (only the server can): used to renew before expiry.
 * Undefined when the token has no readable numeric exp.
 */
export function tokenExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) {
    return undefined;
  }
  try {
    const json = new TextDecoder().decode(base64UrlDecode(parts[1]!));
    const exp = (JSON.parse(json) as Record<string, unknown>)['exp'];
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

function base64UrlDecode(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Renew a login token this long before its exp. */
const RENEW_BEFORE_MS = 60_000;

/**
 * Hands out a token for each connection attempt. With login options it logs
 * in on first use, again when the token is within a minute of expiring, and
 * after `invalidate()` (a connection was refused).
 */
export class TokenSource {
  private token: string | undefined;
  private pending: Promise<LoginResult> | undefined;

  constructor(
    private readonly source: {
      token?: string;
      getToken?: () => Promise<string>;
      login?: LoginOptions;
      fetch?: typeof fetch;
      now: () => number;
    },
  ) {
    if (!source.token && !source.getToken && !source.login) {
      throw new Error('give a token, a getToken function or login options');
    }
    this.token = source.token;
  }

  async get(): Promise<string> {
    if (this.source.getToken) {
      return this.source.getToken();
    }
    if (this.source.login && (this.token === undefined || this.expiresSoon(this.token))) {
      // Both links ask at once: they share one login.
      this.pending ??= login(this.source.login, this.source.fetch).finally(() => {
        this.pending = undefined;
      });
      this.token = (await this.pending).access_token;
    }
    if (this.token === undefined) {
      throw new Error('no token');
    }
    return this.token;
  }

  /** Forget the token so the next get() logs in again (only with login options). */
  invalidate(): void {
    if (this.source.login) {
      this.token = undefined;
    }
  }

  private expiresSoon(token: string): boolean {
    const exp = tokenExpiry(token);
    return exp !== undefined && exp * 1000 - RENEW_BEFORE_MS <= this.source.now();
  }
}
