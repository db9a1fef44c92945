// Publish to Hubbub from a Node backend with the typed publisher of the client package, and mint
// user tokens with jose (npm install @hubbub/client jose).
// Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... node publish.mjs
import { SignJWT } from 'jose';
import { HubbubError, createPublisher } from '@hubbub/client/publisher';

const hubbub = createPublisher({ url: process.env.HUBBUB_URL, apiKey: process.env.HUBBUB_API_KEY });
const secret = new TextEncoder().encode(process.env.HUBBUB_TOKEN_SECRET);

/** A connection token (HS256 JWT) for one user, who joins their notifications channel on connect. */
function userToken(user) {
  return new SignJWT({ channels: [`notifications:#${user}`] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(secret);
}

try {
  const show = (label, value) => console.log(JSON.stringify({ [label]: value }));
  show('published', await hubbub.publish('chat:lobby', { text: 'hello from Node' }));
  // A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
  const alert = { text: 'deploy 42 finished' };
  show('broadcast', await hubbub.broadcast(['chat:lobby', 'ops:alerts'], alert, { idempotencyKey: 'deploy-42' }));
  show('retried', await hubbub.broadcast(['chat:lobby', 'ops:alerts'], alert, { idempotencyKey: 'deploy-42' }));
  show('history', await hubbub.history('chat:lobby', { limit: 10 }));
  show('token', await userToken('ada'));
} catch (err) {
  // Every refusal is a HubbubError whose code comes from the error table (unauthorized, rate_limited...).
  if (!(err instanceof HubbubError)) throw err;
  console.error(`${err.code} (${err.status}): ${err.message}${err.retryable ? ', retry later' : ''}`);
  process.exitCode = 1;
}
