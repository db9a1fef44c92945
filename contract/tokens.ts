import { z } from 'zod';
import { ChannelName } from './channel.js';
import { JsonData } from './publication.js';

// The claims a backend signs (JWT) for its users. The signature, `exp`, `nbf`, `iss` and `aud` are
// checked by the server's verifier; these schemas check what the claims mean to Hubbub.

/** Longest token a server accepts in a header, query parameter, cookie or frame. */
export const TOKEN_MAX_LENGTH = 8192;

export const Token = z.string().min(1).max(TOKEN_MAX_LENGTH).describe('A JWT signed by your backend (see docs/security.md)');

const Info = JsonData.optional().describe('Public JSON about the user: shown in presence and attached to what the user publishes');

export const ConnectionClaims = z
  .object({
    sub: z.string().max(255).describe('The user id; "" means an anonymous connection'),
    exp: z.number().optional().describe('Expiry, seconds since the Unix epoch; none means the token never expires'),
    info: Info,
    channels: z
      .array(ChannelName)
      .max(128)
      .optional()
      .describe('Channels the server subscribes this connection to on connect, decided by the backend'),
  })
  .passthrough();
export type ConnectionClaims = z.infer<typeof ConnectionClaims>;

export const SubscriptionClaims = z
  .object({
    sub: z.string().max(255).describe('Must equal the connection token\'s sub'),
    channel: ChannelName.describe('The one channel this token lets the user subscribe to'),
    exp: z.number().optional(),
    info: Info.describe('Public JSON about the user in this channel: shown in its presence'),
  })
  .passthrough();
export type SubscriptionClaims = z.infer<typeof SubscriptionClaims>;
