import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures as Stripe makes them: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
// The timestamp is inside the signed text, so a receiver that refuses old timestamps also refuses
// a replayed request; it is signed anew on every attempt of a delivery.

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/** What a receiver does (docs/webhooks.md shows it in Python and Node): true when `header` signs `body` with `secret`. */
export function verifySignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(t) || given === undefined || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureHeader(secret, body, t).slice(`t=${t},v1=`.length), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
