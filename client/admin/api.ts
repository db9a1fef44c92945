import { type ClientInferResponseBody, initClient } from '@ts-rest/core';
import { type AdminApi, adminApi } from '../../contract/admin.js';
import type { JsonData } from '../../contract/publication.js';
import { HubbubError } from '../errors.js';

// The dashboard's calls, typed from the contract: a renamed field or a new status fails the
// typecheck here, not in a browser. The session cookie rides along on its own (same origin,
// HttpOnly); the CSRF token from the session is added to every state-changing call.

export type Session = ClientInferResponseBody<AdminApi['adminSession'], 200>;
export type Nodes = ClientInferResponseBody<AdminApi['adminNodes'], 200>['nodes'];
export type Channels = ClientInferResponseBody<AdminApi['adminChannels'], 200>['channels'];
export type ChannelPage = ClientInferResponseBody<AdminApi['adminChannel'], 200>;
export type ConfigView = ClientInferResponseBody<AdminApi['adminConfig'], 200>;
export type PublishResult = ClientInferResponseBody<AdminApi['adminPublish'], 200>;

const client = initClient(adminApi, { baseUrl: '', baseHeaders: {}, throwOnUnknownStatus: false });

function ok<R extends { status: number; body: unknown }>(res: R): Extract<R, { status: 200 }>['body'] {
  if (res.status === 200) return res.body;
  throw HubbubError.fromResponse(res.status, res.body);
}

let csrf = '';

export const admin = {
  /** The session of the cookie, or undefined when the page must sign in first. */
  async session(): Promise<Session | undefined> {
    const res = await client.adminSession();
    if (res.status === 401) return undefined;
    const session = ok(res);
    csrf = session.csrf;
    return session;
  },
  async login(secret: string): Promise<Session> {
    const session = ok(await client.adminLogin({ body: { secret } }));
    csrf = session.csrf;
    return session;
  },
  async logout(): Promise<void> {
    ok(await client.adminLogout({ headers: { 'x-csrf-token': csrf } }));
    csrf = '';
  },
  nodes: async () => ok(await client.adminNodes()).nodes,
  channels: async () => ok(await client.adminChannels()).channels,
  // ts-rest puts path params in as they are: the `#` of a user channel would start the URL's fragment.
  channel: async (channel: string) => ok(await client.adminChannel({ params: { channel: encodeURIComponent(channel) } })),
  config: async () => ok(await client.adminConfig()),
  publish: async (channel: string, data: JsonData) => ok(await client.adminPublish({ body: { channel, data }, headers: { 'x-csrf-token': csrf } })),
  /** A short-lived token that lets the live tail watch `channel` (and nothing else). */
  tailToken: async (channel: string) => ok(await client.adminTailToken({ body: { channel }, headers: { 'x-csrf-token': csrf } })),
  disconnect: async (user: string) => ok(await client.adminDisconnect({ body: { user }, headers: { 'x-csrf-token': csrf } })),
};
