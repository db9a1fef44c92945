import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import { adminLogin, adminSession } from './access.js';
import { HistoryResponse, NodeInfo, PresenceEntry, PublishRequest, PublishResult, UserCommandResult } from './api.js';
import { ChannelName, UserId } from './channel.js';
import { errorResponses } from './errors.js';
import { JsonData } from './publication.js';

// The admin dashboard's API (docs/admin.md). A router of its own beside `api`: it reuses api.ts's
// schemas, so api.ts cannot import it back (an import cycle); koa-app.ts mounts both and the
// OpenAPI document joins them. Every route is off (404 not_found) until an admin password or an
// admin-scoped key is configured.

const c = initContract();

const CsrfHeaders = z.object({
  'x-csrf-token': z.string().optional().describe('The csrf value of the session (required on every POST but login)'),
});

export const AdminLoginRequest = z
  .object({ secret: z.string().min(1).max(1024).describe('The admin password, or an API key scoped to admin') })
  .strict();

export const AdminSession = z.object({
  who: z.string().describe('"password" or the name of the admin-scoped key that signed in'),
  csrf: z.string().describe('Send it back as the X-CSRF-Token header of every state-changing call'),
  expires: z.number().int().describe('ms since the Unix epoch when the session ends'),
});
export type AdminSession = z.infer<typeof AdminSession>;

export const AdminChannel = z.object({
  channel: ChannelName,
  subscribers: z.number().int().describe('On every node together'),
  rate: z.number().describe('Publications per second, from the offset between two samples'),
  offset: z.number().int().describe('Latest offset seen'),
  nodes: z.number().int().describe('Nodes with subscribers'),
});
export type AdminChannel = z.infer<typeof AdminChannel>;

export const AdminChannelPage = z.object({
  channel: ChannelName,
  presence: z.array(PresenceEntry),
  history: HistoryResponse.describe('The newest publications, newest first'),
});

export const AdminPublishRequest = PublishRequest;
export const AdminDisconnectRequest = z.object({ user: UserId }).strict();

export const AdminConfig = z.object({
  settings: z.record(z.string(), JsonData).describe('Every setting with its effective value; secrets replaced by a mask'),
  apiKeys: z.array(z.object({ name: z.string(), key: z.string(), namespaces: z.array(z.string()), operations: z.array(z.string()) })),
  namespaces: z.record(z.string(), JsonData),
  defaults: JsonData,
});
export type AdminConfig = z.infer<typeof AdminConfig>;

export const OkResponse = z.object({ ok: z.literal(true) });

export const AdminTailTokenRequest = z.object({ channel: ChannelName }).strict();
export const AdminTailToken = z.object({
  token: z.string().describe('A connection token that lets the live tail watch this one channel (docs/admin.md)'),
  expires: z.number().int().describe('ms since the Unix epoch when the token expires (about a minute): fetch a new one'),
});
export type AdminTailToken = z.infer<typeof AdminTailToken>;

const ADMIN_ERRORS = ['admin_session_required', 'forbidden', 'not_found', 'rate_limited'] as const;

export const adminApi = c.router(
  {
    adminLogin: {
      method: 'POST',
      path: '/admin/api/login',
      body: AdminLoginRequest,
      responses: {
        200: AdminSession,
        ...errorResponses('bad_request', 'admin_login_failed', 'forbidden', 'not_found', 'payload_too_large', 'unsupported_media_type', 'rate_limited'),
      },
      summary: 'Sign in to the admin dashboard: sets the session cookie and returns the CSRF token',
      metadata: adminLogin,
    },
    adminLogout: {
      method: 'POST',
      path: '/admin/api/logout',
      headers: CsrfHeaders,
      body: c.noBody(),
      responses: { 200: OkResponse, ...errorResponses(...ADMIN_ERRORS) },
      summary: 'Sign out: clears the session cookie',
      metadata: adminSession,
    },
    adminSession: {
      method: 'GET',
      path: '/admin/api/session',
      responses: { 200: AdminSession, ...errorResponses(...ADMIN_ERRORS) },
      summary: 'The current session and its CSRF token (a reloaded page reads it here)',
      metadata: adminSession,
    },
    adminNodes: {
      method: 'GET',
      path: '/admin/api/nodes',
      responses: { 200: z.object({ nodes: z.array(NodeInfo) }), ...errorResponses(...ADMIN_ERRORS, 'unavailable') },
      summary: "The cluster's live nodes with their counters",
      metadata: adminSession,
    },
    adminChannels: {
      method: 'GET',
      path: '/admin/api/channels',
      responses: { 200: z.object({ channels: z.array(AdminChannel) }), ...errorResponses(...ADMIN_ERRORS, 'unavailable') },
      summary: 'Channels with subscribers across the cluster, with publication rates',
      metadata: adminSession,
    },
    adminChannel: {
      method: 'GET',
      path: '/admin/api/channels/:channel',
      pathParams: z.object({ channel: ChannelName }),
      responses: { 200: AdminChannelPage, ...errorResponses('bad_request', ...ADMIN_ERRORS, 'unavailable') },
      summary: "A channel's presence across the cluster and its newest history",
      metadata: adminSession,
    },
    adminPublish: {
      method: 'POST',
      path: '/admin/api/publish',
      headers: CsrfHeaders,
      body: AdminPublishRequest,
      responses: {
        200: PublishResult,
        ...errorResponses('bad_request', ...ADMIN_ERRORS, 'payload_too_large', 'unsupported_media_type', 'unavailable'),
      },
      summary: 'Publish JSON to a channel (through the same publish service as the REST API)',
      metadata: adminSession,
    },
    adminDisconnect: {
      method: 'POST',
      path: '/admin/api/disconnect',
      headers: CsrfHeaders,
      body: AdminDisconnectRequest,
      responses: { 200: UserCommandResult, ...errorResponses('bad_request', ...ADMIN_ERRORS, 'unsupported_media_type', 'unavailable') },
      summary: 'Disconnect every connection of a user, on every node',
      metadata: adminSession,
    },
    adminTailToken: {
      method: 'POST',
      path: '/admin/api/tail-token',
      headers: CsrfHeaders,
      body: AdminTailTokenRequest,
      responses: { 200: AdminTailToken, ...errorResponses('bad_request', ...ADMIN_ERRORS, 'unsupported_media_type') },
      summary: "A short-lived token for the dashboard's live tail: subscribe to this one channel, nothing else",
      metadata: adminSession,
    },
    adminConfig: {
      method: 'GET',
      path: '/admin/api/config',
      responses: { 200: AdminConfig, ...errorResponses(...ADMIN_ERRORS) },
      summary: 'The effective configuration, secrets masked',
      metadata: adminSession,
    },
  },
  { strictStatusCodes: true },
);

export type AdminApi = typeof adminApi;
