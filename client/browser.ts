// Entry of the browser bundle (server/build/config.ts): the realtime client, the publisher and the error classes.
export { Hubbub } from './hubbub.js';
export { createPublisher } from './publisher.js';
export { HubbubDisconnectError, HubbubError, HubbubNoTransportError, HubbubProtocolError } from './errors.js';
