// Mint Hubbub tokens in a Node backend with jose (npm install jose).
// Usage: HUBBUB_TOKEN_SECRET=... node docs/examples/mint-token.mjs <user> [channel]
// With a channel it mints a subscription token for that channel, else a connection token.
import { SignJWT } from 'jose';

const secret = new TextEncoder().encode(process.env.HUBBUB_TOKEN_SECRET);
const [user, channel] = process.argv.slice(2);

/** A connection token: who the user is, public info for presence, and channels to join on connect. */
export function connectionToken(user, info) {
  return new SignJWT({ info, channels: [`notifications:#${user}`] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(secret);
}

/** A subscription token: lets this user subscribe to one channel of a `subscribe: token` namespace. */
export function subscriptionToken(user, channel) {
  return new SignJWT({ channel }).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime('15m').sign(secret);
}

console.log(channel ? await subscriptionToken(user, channel) : await connectionToken(user, { name: user }));
