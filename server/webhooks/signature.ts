import { createHmac } from 'node:crypto';

// Webhook signatures as Stripe makes them: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
// The timestamp is inside the signed text, so a receiver that refuses old timestamps also refuses
// a replayed request; it is signed anew on every attempt of a delivery. Receivers verify it as
// docs/webhooks.md shows (docs/examples/webhook-receiver.mjs, webhook_receiver.py, tested).

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}
