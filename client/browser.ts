// Entry of the browser bundle (server/build/config.ts), served at /client/hubbub.js, and the
// package's "browser" condition: the realtime client on the host's WebSocket, EventSource and
// fetch. Zod-free: the typed publisher (ts-rest + zod) is the package's `./publisher`, for backends.
export * from './realtime.js';
