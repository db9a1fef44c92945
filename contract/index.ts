export * from './access.js';
export * from './admin.js';
export * from './api.js';
export * from './channel.js';
export * from './disconnect.js';
export * from './errors.js';
export * from './frames.js';
export * from './position.js';
export * from './publication.js';
export * from './tokens.js';
export * from './webhooks.js';

export const PROTOCOL_VERSION = '1';
