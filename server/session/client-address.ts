import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

// The address a request comes from. Behind nginx every request comes from the proxy, so the
// client's address is read from X-Forwarded-For / Forwarded — but only when the request comes
// from a listed proxy: anyone else could write those headers to dodge per-IP limits.

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  /** Entries are addresses or CIDR ranges, IPv4 or IPv6 (`10.0.0.0/8`, `::1`). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, bits] = entry.split('/');
      const family = isIP(addr ?? '');
      if (!family) throw new Error(`trusted proxy ${JSON.stringify(entry)} is not an IP address or CIDR range`);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr!, type);
      else this.list.addSubnet(addr!, Number(bits), type);
    }
    this.empty = entries.length === 0;
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const plain = unmap(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client address of a request: the socket's peer, or the nearest untrusted hop it forwarded for. */
  clientAddress(req: IncomingMessage): string {
    const peer = unmap(req.socket.remoteAddress ?? '');
    if (!this.has(peer)) return peer;
    const hops = forwardedFor(req);
    // Walk from the nearest hop outwards; the first address not of our own proxies is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (!this.has(hop)) return hop;
    }
    return hops[0] ?? peer;
  }
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) is `127.0.0.1`. */
function unmap(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * X-Forwarded-For first: it is what proxies append to (nginx, HAProxy, cloud balancers), while a
 * Forwarded header they do not write reaches us as the client sent it — read first, it would let
 * any client name its own address. Forwarded counts only for proxies that write that one alone.
 */
function forwardedFor(req: IncomingMessage): string[] {
  const xff = req.headers['x-forwarded-for'];
  const text = Array.isArray(xff) ? xff.join(',') : (xff ?? '');
  const hops = text
    .split(',')
    .map((s) => unmap(s.trim()))
    .filter((s) => isIP(s) !== 0);
  if (hops.length > 0) return hops;
  const forwarded = req.headers['forwarded'];
  const out: string[] = [];
  if (typeof forwarded === 'string' && forwarded !== '') {
    for (const element of forwarded.split(',')) {
      const m = /(?:^|;)\s*for=("?)\[?([^\]";]+)\]?(?::\d+)?\1/i.exec(element);
      // A quoted IPv4 may carry a port ("192.0.2.43:8080"); IPv6 ports sit outside the brackets.
      const addr = m ? unmap(m[2]!.trim().replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1')) : '';
      if (isIP(addr)) out.push(addr);
    }
  }
  return out;
}
