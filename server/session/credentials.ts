import type { IncomingMessage } from 'node:http';

// Where a client's connection token comes from: an `Authorization: Bearer` header (Node clients,
// fetch-based SSE), a `token` query parameter (native EventSource cannot send headers) or a
// cookie set by the app's own backend. The first one present wins; none means anonymous.

export type TokenSource = 'header' | 'query' | 'cookie';

export interface FoundToken {
  token: string;
  source: TokenSource;
}

export function findToken(req: IncomingMessage, queryToken: string | undefined, cookieName: string | undefined): FoundToken | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined && auth !== '') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    // A malformed header is a token that fails verification, not an anonymous request.
    return { token: m ? m[1]! : auth, source: 'header' };
  }
  if (queryToken !== undefined && queryToken !== '') return { token: queryToken, source: 'query' };
  if (cookieName) {
    const value = readCookie(req.headers.cookie, cookieName);
    if (value) return { token: value, source: 'cookie' };
  }
  return undefined;
}

/** One cookie by name. Hand-written: a full cookie library would parse every cookie on every request for one value. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}
