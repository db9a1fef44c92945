import type { ConnectionIdentity } from '../auth/tokens.js';
import { HubbubError } from '../errors.js';
import type { Session } from './session.js';

// Tokens refused after the server API disconnected their user: since when, per user, and the
// digests of the tokens that user's connections held (the session registry, sessions.ts, asks).

interface Revocation {
  at: number;
  /** Digests of the tokens the user's connections held when they were disconnected. */
  tokens: Set<string>;
}

/** How long a user disconnect keeps refusing the tokens issued before it. */
const REVOCATION_MS = 24 * 3600_000;

export const REVOKED = () => new HubbubError('token_invalid', 'this token was revoked when the server disconnected its user: sign a new one');

export class Revocations {
  /** user → when their tokens were revoked (a disconnect through the server API), and the tokens their connections held. */
  private readonly revoked = new Map<string, Revocation>();
  /** The token each verified identity came from, as a digest: a disconnect refuses exactly the tokens in use. */
  readonly tokenDigests = new WeakMap<ConnectionIdentity, string>();

  constructor(private readonly now: () => number) {}

  /** Refuses the tokens of `user` issued before now, and those its live sessions (`held`) hold. */
  revoke(user: string, held: Iterable<Session>): void {
    const tokens = new Set(this.revoked.get(user)?.tokens);
    for (const s of held) {
      const d = this.tokenDigests.get(s.identity);
      if (d !== undefined) tokens.add(d);
    }
    this.revoked.delete(user);
    if (this.revoked.size >= 100_000) this.revoked.delete(this.revoked.keys().next().value!);
    this.revoked.set(user, { at: this.now(), tokens });
  }

  isRevoked(identity: ConnectionIdentity): boolean {
    if (identity.user === null) return false;
    const r = this.revoked.get(identity.user);
    if (r === undefined) return false;
    // iat has second resolution: a token signed in the second of the revocation still passes, so
    // the backend's fresh token is never refused. The tokens the disconnected connections held are
    // refused by digest, whatever their iat says (same second, or a backend clock running ahead).
    if ((identity.issuedAt ?? 0) < Math.floor(r.at / 1000) * 1000) return true;
    const d = this.tokenDigests.get(identity);
    return d !== undefined && r.tokens.has(d);
  }

  /** Forgets the revocations older than REVOCATION_MS. */
  sweep(): void {
    const cutoff = this.now() - REVOCATION_MS;
    for (const [user, r] of this.revoked) if (r.at < cutoff) this.revoked.delete(user);
  }
}
