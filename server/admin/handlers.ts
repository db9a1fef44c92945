import type { Context } from 'koa';
import type { AdminApi, AdminSession } from '../../contract/index.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Config } from '../config.js';
import { HubbubError } from '../errors.js';
import type { RouterHandlers } from '../http/adapter.js';
import type { Hub } from '../hub/hub.js';
import type { Logger } from '../logger.js';
import type { PublishService } from '../publish/service.js';
import type { ApiCaller } from '../session/api-keys.js';
import type { Sessions } from '../session/sessions.js';
import type { AdminAuth } from './auth.js';
import { configView } from './config-view.js';

// The admin dashboard's API. The guard (server/http/guard.ts → admitAdmin in auth.ts) has checked the
// session and the CSRF token; publishing goes through the one publish service like any backend,
// and every action is logged with who did it and from where.

export interface AdminDeps {
  /** The admin access in force (a reload replaces it). */
  auth: () => AdminAuth;
  config: Config;
  hub: Hub;
  publishing: PublishService;
  sessions: Sessions;
  cluster(): Cluster;
  logger: Logger;
}

/** The admin session the guard admitted. */
export function adminOf(ctx: Context): AdminSession {
  const session = ctx.state['admin'] as AdminSession | undefined;
  if (!session) throw new Error('adminOf() on a route the guard did not admit with an admin session');
  return session;
}

/** The admin publishes as a backend allowed everywhere, named after who signed in. */
function adminCaller(who: string): ApiCaller {
  return { name: `admin:${who}`, missingOperation: () => undefined, missingChannel: () => undefined };
}

/** How many publications the channel page shows. */
const HISTORY_SHOWN = 50;

export function adminHandlers(deps: AdminDeps): RouterHandlers<AdminApi> {
  const { auth, sessions } = deps;
  const log = (ctx: Context, who: string, action: string) =>
    deps.logger.info(`admin: ${who} ${action} (from ${sessions.options.proxies.clientAddress(ctx.req)})`);
  return {
    async adminLogin({ body }, ctx) {
      // Failed logins count towards the address's limit of failed credentials, shared with API keys and tokens.
      sessions.assertMayTry(ctx.req);
      const who = await auth().verify(body.secret);
      if (!who) {
        log(ctx, 'someone', 'failed to sign in');
        sessions.apiKeyFailed(ctx.req);
        throw new HubbubError('admin_login_failed');
      }
      const { cookie, session } = auth().issue(who);
      ctx.set('Set-Cookie', auth().setCookie(ctx.req, cookie));
      log(ctx, who, 'signed in');
      return { status: 200, body: session };
    },

    async adminLogout(_req, ctx) {
      ctx.set('Set-Cookie', auth().clearCookie(ctx.req));
      log(ctx, adminOf(ctx).who, 'signed out');
      return { status: 200, body: { ok: true as const } };
    },

    async adminSession(_req, ctx) {
      return { status: 200, body: adminOf(ctx) };
    },

    async adminNodes() {
      return { status: 200, body: { nodes: await deps.cluster().nodes() } };
    },

    async adminChannels() {
      return { status: 200, body: { channels: await deps.cluster().channels() } };
    },

    async adminChannel({ params }) {
      const [presence, history] = await Promise.all([
        deps.cluster().presence(params.channel),
        deps.hub.history(params.channel, { limit: HISTORY_SHOWN, reverse: true }),
      ]);
      return { status: 200, body: { channel: params.channel, presence, history } };
    },

    async adminPublish({ body }, ctx) {
      const who = adminOf(ctx).who;
      const pub = await deps.publishing.publish({ kind: 'backend', key: adminCaller(who) }, body);
      log(ctx, who, `published to ${pub.channel} at offset ${pub.offset}`);
      return { status: 200, body: { channel: pub.channel, epoch: pub.epoch, offset: pub.offset } };
    },

    async adminDisconnect({ body }, ctx) {
      const who = adminOf(ctx).who;
      const connections = await deps.cluster().userCommand({ kind: 'disconnect', user: body.user });
      log(ctx, who, `disconnected user ${body.user} (${connections} connections)`);
      return { status: 200, body: { user: body.user, connections } };
    },

    async adminTailToken({ body }, ctx) {
      const who = adminOf(ctx).who;
      // The guard admitted a session, so the dashboard is on and the tail key exists.
      const tail = auth().tail;
      if (!tail) throw new HubbubError('not_found', 'the admin dashboard is off');
      // Watching a channel reads it: logged like every admin action (once a minute while a page stays open).
      log(ctx, who, `watches ${body.channel}`);
      return { status: 200, body: await tail.mint(who, body.channel) };
    },

    async adminConfig(_req, ctx) {
      log(ctx, adminOf(ctx).who, 'viewed the configuration');
      return { status: 200, body: configView(deps.config) };
    },
  };
}
