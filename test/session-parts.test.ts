import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiKeys } from '../server/session/api-keys.js';
import { TrustedProxies } from '../server/session/client-address.js';
import { findToken, readCookie } from '../server/session/credentials.js';
import { OriginPolicy } from '../server/session/origins.js';
import { ConcurrencyCounter, KeyedBuckets, TokenBucket } from '../server/session/rate.js';

function request(headers: Record<string, string>, remoteAddress = '203.0.113.9'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('TokenBucket', () => {
  it('never lets more through than burst + rate × elapsed time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }),
        (perSecond, burst, steps) => {
          let t = 0;
          const b = new TokenBucket({ perSecond, burst }, () => t);
          let taken = 0;
          for (const step of steps) {
            t += step;
            if (b.take()) taken += 1;
          }
          return taken <= burst + Math.floor((t / 1000) * perSecond) + 1e-9;
        },
      ),
    );
  });

  it('says how long to wait when empty', () => {
    let t = 0;
    const b = new TokenBucket({ perSecond: 2, burst: 1 }, () => t);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.retryAfterMs()).toBe(500);
    t += 500;
    expect(b.take()).toBe(true);
  });
});

describe('KeyedBuckets and ConcurrencyCounter', () => {
  it('keeps keys apart, forgets full buckets on sweep and stays within maxKeys', () => {
    let t = 0;
    const k = new KeyedBuckets({ perSecond: 1, burst: 2 }, 3, () => t);
    expect([k.take('a'), k.take('a'), k.take('a') > 0]).toEqual([0, 0, true]);
    expect(k.take('b')).toBe(0);
    for (const ip of ['c', 'd', 'e']) k.take(ip);
    expect(k.size).toBe(3);
    t += 10_000;
    k.sweep();
    expect(k.size).toBe(0);
  });

  it('counts concurrent connections per key up to the ceiling', () => {
    const c = new ConcurrencyCounter(2);
    expect([c.acquire('x'), c.acquire('x'), c.acquire('x')]).toEqual([true, true, false]);
    c.release('x');
    expect(c.acquire('x')).toBe(true);
    c.release('x');
    c.release('x');
    expect(c.size).toBe(0);
  });
});

describe('TrustedProxies', () => {
  it('ignores forwarding headers from anyone but a listed proxy', () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress(request({ 'x-forwarded-for': '1.2.3.4' }))).toBe('203.0.113.9');
    const proxies = new TrustedProxies(['10.0.0.0/8', '::1']);
    expect(proxies.clientAddress(request({ 'x-forwarded-for': '1.2.3.4' }))).toBe('203.0.113.9');
  });

  it('takes the nearest untrusted hop when the request comes through listed proxies', () => {
    const proxies = new TrustedProxies(['10.0.0.0/8', '::1']);
    const xff = request({ 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.2.3' }, '::ffff:10.0.0.1');
    expect(proxies.clientAddress(xff)).toBe('198.51.100.7');
    const fwd = request({ forwarded: 'for=6.6.6.6, for="[2001:db8::17]:4711";proto=https, for="10.0.0.5:80"' }, '::1');
    expect(proxies.clientAddress(fwd)).toBe('2001:db8::17');
    expect(proxies.clientAddress(request({}, '10.9.9.9'))).toBe('10.9.9.9');
  });

  it('refuses entries that are not addresses', () => {
    expect(() => new TrustedProxies(['nginx'])).toThrow(/not an IP/);
  });
});

describe('OriginPolicy', () => {
  it('lets requests without Origin through, same origin when nothing is listed, listed origins otherwise', () => {
    const same = new OriginPolicy([]);
    expect(same.check(request({ host: 'rt.example:8080' }))).toBe(true);
    expect(same.check(request({ host: 'rt.example:8080', origin: 'http://rt.example:8080' }))).toBe('http://rt.example:8080');
    expect(same.check(request({ host: 'rt.example:8080', origin: 'https://evil.example' }))).toBe(false);
    expect(same.check(request({ host: 'rt.example:8080', origin: 'null' }))).toBe(false);
    const listed = new OriginPolicy(['https://app.example/']);
    expect(listed.check(request({ host: 'rt.example', origin: 'https://APP.example' }))).toBe('https://APP.example');
    expect(listed.check(request({ host: 'rt.example', origin: 'https://app.example.evil' }))).toBe(false);
    expect(new OriginPolicy(['*']).check(request({ host: 'x', origin: 'https://any.example' }))).toBe('https://any.example');
  });
});

describe('ApiKeys', () => {
  const keys = new ApiKeys('master-key-0123456789', [
    { name: 'billing', key: 'billing-key-0123456789', namespaces: ['billing', ''], operations: ['publish', 'broadcast'] },
  ]);

  it('knows the master key and scoped keys, nothing else', () => {
    expect(keys.authenticate('Bearer master-key-0123456789')?.name).toBe('master');
    expect(keys.authenticate('Bearer billing-key-0123456789')?.name).toBe('billing');
    expect(keys.authenticate('Bearer billing-key-012345678')).toBeUndefined();
    expect(keys.authenticate('billing-key-0123456789')).toBeUndefined();
    expect(keys.authenticate(undefined)).toBeUndefined();
  });

  it('says what a scoped key is missing', () => {
    const billing = keys.authenticate('Bearer billing-key-0123456789')!;
    expect(billing.missingOperation('publish')).toBeUndefined();
    expect(billing.missingOperation('history')).toMatch(/may not call history/);
    expect(billing.missingChannel('billing:invoices')).toBeUndefined();
    expect(billing.missingChannel('plain')).toBeUndefined();
    expect(billing.missingChannel('chat:lobby')).toMatch(/namespace "chat"/);
  });

  it('refuses two keys with one name', () => {
    const k = { key: 'x'.repeat(16), namespaces: ['*'], operations: ['*' as const] };
    expect(() => new ApiKeys('m'.repeat(16), [{ ...k, name: 'a' }, { ...k, name: 'a' }])).toThrow(/twice/);
  });
});

describe('findToken', () => {
  it('reads the header first, then the query parameter, then the cookie', () => {
    expect(findToken(request({ authorization: 'Bearer h.h.h', cookie: 'hb=c' }), 'q', 'hb')).toEqual({ token: 'h.h.h', source: 'header' });
    expect(findToken(request({ cookie: 'hb=c.c.c' }), 'q.q.q', 'hb')).toEqual({ token: 'q.q.q', source: 'query' });
    expect(findToken(request({ cookie: 'other=1; hb=c.c.c' }), undefined, 'hb')).toEqual({ token: 'c.c.c', source: 'cookie' });
    expect(findToken(request({ cookie: 'hb=c.c.c' }), undefined, undefined)).toBeUndefined();
    expect(findToken(request({ authorization: 'Basic abc' }), undefined, undefined)).toEqual({ token: 'Basic abc', source: 'header' });
  });

  it('decodes cookie values and survives malformed ones', () => {
    expect(readCookie('a=1; b=%41%42', 'b')).toBe('AB');
    expect(readCookie('b=%E0%A4%A', 'b')).toBe('%E0%A4%A');
    expect(readCookie('b', 'b')).toBeUndefined();
  });
});
