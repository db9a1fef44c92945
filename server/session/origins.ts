import type { IncomingMessage } from 'node:http';

// Which web pages may use the realtime endpoints from a visitor's browser. A browser always sends
// `Origin` on WebSocket upgrades and cross-origin fetches; a request without one is not a browser
// request (a backend, a CLI, a native app) and is not refused for that — its token rules still apply.

export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;

  /** `allowed` lists origins (`https://app.example.com`), or `*`; empty means same origin only. */
  constructor(allowed: readonly string[]) {
    this.any = allowed.includes('*');
    this.allowed = new Set(allowed.filter((o) => o !== '*').map(normalize));
  }

  /** The request's Origin header when it is a browser request that is allowed, `true` without Origin, `false` when refused. */
  check(req: IncomingMessage): string | boolean {
    const origin = req.headers.origin;
    // An empty header is no Origin at all (Koa reads it so too, for the CORS middleware).
    if (origin === undefined || origin === '') return true;
    if (this.allows(origin, req.headers.host)) return origin;
    return false;
  }

  allows(origin: string, host: string | undefined): boolean {
    if (this.any) return true;
    const o = origin.toLowerCase();
    if (this.allowed.has(normalize(o))) return true;
    // Same origin: the page was served by this server under the same host (and port).
    try {
      return host !== undefined && new URL(o).host === host.toLowerCase();
    } catch {
      return false;
    }
  }
}

/** `https://App.example:443/` and `https://app.example` are one origin (the URL parser drops default ports). */
function normalize(origin: string): string {
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return origin.replace(/\/+$/, '').toLowerCase();
  }
}
