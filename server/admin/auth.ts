import { createHmac, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { TLSSocket } from 'node:tls';
import { isDeepStrictEqual, promisify } from 'node:util';
import type { AdminSession } from '../../contract/index.js';
import { AdminTailTokens } from '../auth/admin-tail.js';
import { HubbubError } from '../errors.js';
import type { Config } from '../config.js';
import type { ApiKeys } from '../session/api-keys.js';
import type { TrustedProxies } from '../session/client-address.js';

// Who may use the admin dashboard. The session is a signed, stateless cookie (expiry and who
// signed in, HMAC-SHA256), so it works on every node behind a round-robin balancer without sticky
// sessions: every node derives the same signing key from the same admin password and admin keys.
// Derived with scrypt, so a stolen cookie does not allow a fast offline guess of the password.
// The CSRF token is an HMAC of the cookie: stateless too, and useless without the cookie.
// Built with the session rules (session/build.ts), so a reload that changes the password or the
// admin keys ends the sessions and tail tokens signed with the old key.

export const ADMIN_COOKIE = 'hubbub_admin';
const COOKIE_PATH = '/admin';
const SESSION_MS = 12 * 3600_000;
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export interface AdminAuthOptions {
  password: string | undefined;
  /** The values of the keys scoped to `admin` (config file); they sign in as `key:<name>`. */
  adminKeys: readonly string[];
  apiKeys: ApiKeys;
  proxies: TrustedProxies;
  now?: () => number;
}

export class AdminAuth {
  readonly enabled: boolean;
  /** Only a salted scrypt hash of the password stays in memory. */
  private readonly password: { salt: Buffer; hash: Buffer } | undefined;
  private readonly signingKey: Buffer;
  private readonly now: () => number;
  /** Mints and checks the live tail's tokens; undefined while the dashboard is off. */
  readonly tail: AdminTailTokens | undefined;

  /** `same`: an AdminAuth of the same password and admin keys, whose derived keys are reused (no scrypt). */
  constructor(
    private readonly options: AdminAuthOptions,
    same?: AdminAuth,
  ) {
    this.enabled = options.password !== undefined || options.apiKeys.hasAdminKeys;
    this.now = options.now ?? Date.now;
    if (same) {
      this.password = same.password;
      this.signingKey = same.signingKey;
      this.tail = same.tail;
      return;
    }
    if (options.password !== undefined) {
      const salt = randomBytes(16);
      this.password = { salt, hash: scryptSync(options.password, salt, 32) };
    }
    const material = [options.password ?? '', ...[...options.adminKeys].sort()].join('\0');
    // A fixed salt on purpose: every node must derive the same key from the same configuration.
    this.signingKey = this.enabled ? scryptSync(material, 'hubbub admin session v1', 32) : Buffer.alloc(32);
    this.tail = this.enabled ? new AdminTailTokens(this.signingKey) : undefined;
  }

  /** Who `secret` signs in as, or undefined. Both checks always run, so timing does not tell which failed. */
  async verify(secret: string): Promise<string | undefined> {
    const byPassword = this.password ? timingSafeEqual(await scryptAsync(secret, this.password.salt, 32), this.password.hash) : false;
    const key = this.options.apiKeys.adminCaller(secret);
    if (byPassword) return 'password';
    return key ? `key:${key.name}` : undefined;
  }

  /** A new session for `who`: the cookie value and what the page gets back. */
  issue(who: string): { cookie: string; session: AdminSession } {
    const expires = this.now() + SESSION_MS;
    const payload = `${expires}.${Buffer.from(who).toString('base64url')}`;
    const cookie = `${payload}.${this.mac(payload)}`;
    return { cookie, session: { who, expires, csrf: this.mac(`csrf.${cookie}`) } };
  }

  /** The session of a request's cookie, or undefined when it is missing, forged or expired. */
  session(req: IncomingMessage): AdminSession | undefined {
    const cookie = readCookie(req, ADMIN_COOKIE);
    if (!cookie) return undefined;
    const parts = cookie.split('.');
    if (parts.length !== 3) return undefined;
    const [expiresText, whoText, mac] = parts as [string, string, string];
    if (!equal(mac, this.mac(`${expiresText}.${whoText}`))) return undefined;
    const expires = Number(expiresText);
    if (!Number.isSafeInteger(expires) || expires <= this.now()) return undefined;
    return { who: Buffer.from(whoText, 'base64url').toString(), expires, csrf: this.mac(`csrf.${cookie}`) };
  }

  /**
   * Refuses a cross-site state-changing request before anything else: the browser's Sec-Fetch-Site
   * and Origin must say the page is ours. SameSite=Strict already keeps the cookie off them; this
   * also covers the login form (login CSRF) and browsers without SameSite.
   */
  assertSameOrigin(req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HubbubError('forbidden', 'admin calls must come from the dashboard itself');
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.headers.host) throw new HubbubError('forbidden', `origin ${origin} is not this server`);
  }

  /** The CSRF header must be the session's token. */
  assertCsrf(req: IncomingMessage, session: AdminSession): void {
    const given = req.headers['x-csrf-token'];
    if (typeof given !== 'string' || !equal(given, session.csrf)) throw new HubbubError('forbidden', 'missing or wrong X-CSRF-Token header');
  }

  /** Set-Cookie for a session; Secure when the request came over TLS, directly or through a trusted proxy. */
  setCookie(req: IncomingMessage, cookie: string): string {
    return `${ADMIN_COOKIE}=${cookie}; Path=${COOKIE_PATH}; Max-Age=${SESSION_MS / 1000}; HttpOnly; SameSite=Strict${this.secure(req) ? '; Secure' : ''}`;
  }

  clearCookie(req: IncomingMessage): string {
    return `${ADMIN_COOKIE}=; Path=${COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${this.secure(req) ? '; Secure' : ''}`;
  }

  private secure(req: IncomingMessage): boolean {
    if ((req.socket as TLSSocket).encrypted) return true;
    const proto = req.headers['x-forwarded-proto'];
    const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase();
    return first === 'https' && this.options.proxies.has(req.socket.remoteAddress ?? '');
  }

  private mac(text: string): string {
    return createHmac('sha256', this.signingKey).update(text).digest('base64url');
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The node's admin access: the password setting and the config file's keys scoped to `admin`
 * (`apiKeys` built from the same config). `previous`: the access in force before a reload; when
 * its password and admin keys are the same, its derived keys are kept, so a reload that changes
 * other settings costs no scrypt (~100 ms of blocked event loop, measured) and ends no session.
 */
export function adminAuth(config: Config, rules: { apiKeys: ApiKeys; proxies: TrustedProxies }, previous?: { config: Config; auth: AdminAuth }): AdminAuth {
  const options = { password: config.adminPassword, adminKeys: adminKeysOf(config), apiKeys: rules.apiKeys, proxies: rules.proxies };
  const same = previous && previous.config.adminPassword === config.adminPassword && isDeepStrictEqual(adminKeysOf(previous.config), options.adminKeys);
  return new AdminAuth(options, same ? previous.auth : undefined);
}

function adminKeysOf(config: Config): string[] {
  return config.apiKeys
    .filter((k) => k.operations.includes('admin'))
    .map((k) => k.key)
    .sort();
}

/**
 * The guard's part for admin routes: 404 while the dashboard is off; a same-origin check on every
 * POST (login included); then, except for login, the session cookie and on a POST its CSRF token.
 */
export function admitAdmin(auth: AdminAuth, ctx: Context, needsSession: boolean): void {
  if (!auth.enabled) throw new HubbubError('not_found', `no endpoint at ${ctx.method} ${ctx.path}`);
  const changes = ctx.method !== 'GET' && ctx.method !== 'HEAD';
  if (changes) auth.assertSameOrigin(ctx.req);
  if (!needsSession) return;
  const session = auth.session(ctx.req);
  if (!session) throw new HubbubError('admin_session_required');
  if (changes) auth.assertCsrf(ctx.req, session);
  ctx.state['admin'] = session;
}
