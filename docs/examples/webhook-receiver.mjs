// A Hubbub webhook receiver in a Node backend, no dependencies (docs/webhooks.md).
// Usage: HUBBUB_WEBHOOK_SECRET=... PORT=8000 node docs/examples/webhook-receiver.mjs
// POST /events: verifies the signature, prints each event as a JSON line, answers 204.
// POST /publish-proxy: verifies the signature, rejects data that mentions "spam", accepts the rest.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const SECRET = process.env.HUBBUB_WEBHOOK_SECRET;
const TOLERANCE_S = 300;
const seen = new Set(); // delivery is at least once: skip events already handled (keep this in your database)

function verify(body, header = '') {
  const parts = Object.fromEntries(header.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > TOLERANCE_S) return false; // too old: a replay
  const expected = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks); // verify the raw bytes, before any JSON parsing
  const answer = (status, json) => res.writeHead(status, { 'content-type': 'application/json' }).end(json === undefined ? '' : JSON.stringify(json));
  if (!verify(body, req.headers['hubbub-signature'])) return answer(401, { error: 'bad signature' });
  const payload = JSON.parse(body.toString('utf8'));
  if (req.url === '/events') {
    for (const event of payload.events) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      console.log(JSON.stringify(event));
    }
    return answer(204);
  }
  if (req.url === '/publish-proxy') {
    if (JSON.stringify(payload.data).includes('spam')) return answer(200, { error: { message: 'no spam, please' } });
    return answer(200, { result: {} });
  }
  answer(404);
});
server.listen(Number(process.env.PORT ?? 8000), '127.0.0.1', () => console.error(`listening on ${server.address().port}`));
