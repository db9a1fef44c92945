import type { Api, InfoResponse } from '../../contract/index.js';
import { UnrecoverablePositionError } from '../broker/broker.js';
import type { Cluster, UserCommand } from '../cluster/cluster.js';
import { HubbubError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { PublishService } from '../publish/service.js';
import type { RouterHandlers } from './adapter.js';
import { apiCaller } from './guard.js';

type RestRoutes = 'publish' | 'broadcast' | 'history' | 'presence' | 'channels' | 'info' | 'userDisconnect' | 'userSubscribe' | 'userUnsubscribe';

export interface ApiDeps {
  hub: Hub;
  publishing: PublishService;
  cluster(): Cluster;
  /** Whether the presence API lists a channel's subscribers (namespace option). */
  presenceListed(channel: string): boolean;
  /** The node's own part of /api/info; the hub's counters and the cluster's nodes are added here. */
  info(): Omit<InfoResponse, 'subscriptions' | 'channels' | 'nodes'>;
}

/** A scoped key may only read and write its own namespaces. */
function assertChannel(ctx: Parameters<typeof apiCaller>[0], channel: string): void {
  const missing = apiCaller(ctx).missingChannel(channel);
  if (missing) throw new HubbubError('forbidden', missing);
}

/** The REST API handlers; the guard admitted the caller, publishing goes through the one publish service. */
export function apiHandlers(deps: ApiDeps): Pick<RouterHandlers<Api>, RestRoutes> {
  const { hub } = deps;
  const userCommand = async (command: UserCommand) => ({
    status: 200 as const,
    body: { user: command.user, connections: await deps.cluster().userCommand(command) },
  });
  return {
    async publish({ body }, ctx) {
      const pub = await deps.publishing.publish({ kind: 'backend', key: apiCaller(ctx) }, body);
      return { status: 200, body: { channel: pub.channel, epoch: pub.epoch, offset: pub.offset } };
    },

    async broadcast({ body }, ctx) {
      const results = await deps.publishing.broadcast({ kind: 'backend', key: apiCaller(ctx) }, body);
      return { status: 200, body: { results } };
    },

    async history({ params, query }, ctx) {
      assertChannel(ctx, params.channel);
      try {
        return { status: 200, body: await hub.history(params.channel, query) };
      } catch (err) {
        if (err instanceof UnrecoverablePositionError) {
          throw new HubbubError('unrecoverable_position', err.message, undefined, { cause: err });
        }
        throw err;
      }
    },

    async presence({ params }, ctx) {
      assertChannel(ctx, params.channel);
      if (!deps.presenceListed(params.channel)) throw new HubbubError('forbidden', `presence is off for the namespace of ${params.channel}`);
      return { status: 200, body: { channel: params.channel, clients: await deps.cluster().presence(params.channel) } };
    },

    async channels() {
      return { status: 200, body: { channels: hub.channelCounts() } };
    },

    async info() {
      return {
        status: 200,
        body: {
          ...deps.info(),
          subscriptions: hub.subscriptionCount,
          channels: hub.channelCount,
          nodes: await deps.cluster().nodes(),
        },
      };
    },

    userDisconnect: ({ params }) => userCommand({ kind: 'disconnect', user: params.user }),

    userSubscribe({ params, body }, ctx) {
      assertChannel(ctx, body.channel);
      return userCommand({ kind: 'subscribe', user: params.user, channel: body.channel });
    },

    userUnsubscribe({ params, body }, ctx) {
      assertChannel(ctx, body.channel);
      return userCommand({ kind: 'unsubscribe', user: params.user, channel: body.channel });
    },
  };
}
