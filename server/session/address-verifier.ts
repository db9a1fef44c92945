import { createHash } from 'node:crypto';
import { AdminTailTokens } from '../auth/admin-tail.js';
import type { ConnectionIdentity, TokenVerifier } from '../auth/tokens.js';
import { HubbubError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { KeyedBuckets } from './rate.js';
import { type SessionVerifier, tokenFailure } from './session.js';

// The token verifier as one client address uses it: refused while the address has failed too
// often, and every invalid token counted against it — at the upgrade or request, and in WebSocket
// connect/refresh frames and subscription tokens, which could otherwise try tokens without limit.
// A class, not closures: a long-poll opens one per request.

export const rateLimited = (message: string, wait: number) => new HubbubError('rate_limited', message, undefined, { retryAfterMs: wait });

export class AddressVerifier implements SessionVerifier {
  constructor(
    /** The verifier in force at each use: a session keeps its AddressVerifier across reloads. */
    private readonly source: () => TokenVerifier | undefined,
    private readonly failures: KeyedBuckets,
    /** The digest of the token each signed-in identity came with (revocation by token). */
    private readonly digests: WeakMap<ConnectionIdentity, string>,
    private readonly ip: string,
    private readonly metrics: Pick<Metrics, 'authFailed' | 'rateLimited'>,
    /** The admin tail tokens in force; undefined while the dashboard is off (such a token then fails like any other). */
    private readonly tail: () => AdminTailTokens | undefined = () => undefined,
  ) {}

  get leewayMs(): number {
    return this.source()?.leewayMs ?? 0;
  }

  private get verifier(): TokenVerifier {
    const v = this.source();
    if (!v) throw new HubbubError('token_invalid', 'this server has no token key configured');
    return v;
  }

  async connection(token: string): Promise<ConnectionIdentity> {
    this.assertMayTry();
    // A tail token's kid routes it to the admin key; with the dashboard off it meets the app's key and fails.
    const tail = this.tail();
    const verifier: Pick<TokenVerifier, 'connection'> = tail && AdminTailTokens.claims(token) ? tail : this.verifier;
    let identity: ConnectionIdentity;
    try {
      identity = await verifier.connection(token);
    } catch (err) {
      throw this.failed(err);
    }
    // The verifier hands out one identity per cached token: its digest is taken once.
    if (identity.user !== null && !this.digests.has(identity)) this.digests.set(identity, createHash('sha256').update(token).digest('base64url'));
    return identity;
  }

  async subscription(token: string): ReturnType<TokenVerifier['subscription']> {
    this.assertMayTry();
    const verifier = this.verifier;
    try {
      return await verifier.subscription(token);
    } catch (err) {
      throw this.failed(err);
    }
  }

  private assertMayTry(): void {
    const failing = this.failures.waitFor(this.ip);
    if (failing > 0) {
      this.metrics.rateLimited('auth_failures');
      throw rateLimited('too many failed credentials from your address', failing);
    }
  }

  private failed(err: unknown): HubbubError {
    const e = tokenFailure(err);
    if (e.code === 'token_invalid') this.failures.take(this.ip);
    if (e.code === 'token_invalid' || e.code === 'token_expired') this.metrics.authFailed(e.code);
    return e;
  }
}
