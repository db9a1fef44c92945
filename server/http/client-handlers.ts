import { SignJWT } from 'jose';
import type { Api } from '../../contract/index.js';
import { HubbubError } from '../errors.js';
import type { PublishService } from '../publish/service.js';
import type { Sessions } from '../session/sessions.js';
import type { RouterHandlers } from './adapter.js';

// Routes for clients rather than backends: publishing with a connection token (for SSE and
// long-poll clients, which have no command channel), and the development token endpoint.

const DEV_TOKEN_TTL_S = 600;

export interface ClientHandlerDeps {
  sessions: Sessions;
  publishing: PublishService;
  /** Set only in a development setup (no token key, no config file): signs dev tokens. */
  devTokenSecret: string | undefined;
}

export function clientHandlers(deps: ClientHandlerDeps): Pick<RouterHandlers<Api>, 'clientPublish' | 'devToken'> {
  const devKey = deps.devTokenSecret === undefined ? undefined : new TextEncoder().encode(deps.devTokenSecret);
  return {
    async clientPublish({ query, body }, ctx) {
      const session = await deps.sessions.open(ctx.req, { transport: 'http', queryToken: query.token, longLived: false });
      try {
        const pub = await deps.publishing.publish({ kind: 'client', session, subscribed: false }, body);
        return { status: 200, body: { channel: pub.channel, epoch: pub.epoch, offset: pub.offset } };
      } finally {
        session.close();
      }
    },

    async devToken({ body }) {
      if (!devKey) throw new HubbubError('not_found', 'the dev token endpoint is off: this server has a token key or a config file');
      const exp = Math.floor(Date.now() / 1000) + DEV_TOKEN_TTL_S;
      const claims = body.info === undefined ? {} : { info: body.info };
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(body.user).setIssuedAt().setExpirationTime(exp).sign(devKey);
      return { status: 200, body: { token, expires: exp * 1000 } };
    },
  };
}
