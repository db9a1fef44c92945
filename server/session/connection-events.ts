import { DISCONNECT_TABLE } from '../../contract/index.js';
import { scrub } from '../log-format.js';
import type { PeerClose, Session } from './session.js';

// A connection's start and end as its log lines and the connection webhooks tell them.

/** How a connection ended, for its close line and the disconnect webhook. */
export interface ConnectionEnd {
  by: 'server' | 'client';
  code?: number | undefined;
  reason?: string | undefined;
}

/** Told when a connection of an identified user starts (or gets its user) and ends: the webhooks. */
export interface ConnectionEvents {
  connected(s: Session): void;
  disconnected(s: Session, end: ConnectionEnd, durationMs: number): void;
}

/** The fields both lines of a connection carry. */
export function connectionFields(s: Session): Record<string, unknown> {
  return { transport: s.transport, client: s.client, user: s.user, address: s.ip };
}

/** How the connection ended: the server's reason from the disconnect table, else the client's close frame, else the client left. */
export function endFields(s: Session, peer: PeerClose | undefined): ConnectionEnd {
  if (s.endedBy !== undefined) return { by: 'server', code: DISCONNECT_TABLE[s.endedBy].code, reason: s.endedBy };
  if (peer) return { by: 'client', code: peer.code, reason: peer.reason === '' ? undefined : scrub(peer.reason) };
  return { by: 'client' };
}
