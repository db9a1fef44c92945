import type { Api, ErrorBody, InfoResponse } from '../../contract/index.js';
import { UnrecoverablePositionError } from '../broker/broker.js';
import { HubbubError, toHubbubError } from '../errors.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Hub } from '../hub/hub.js';
import type { RouterHandlers } from './adapter.js';

type RestRoutes = 'publish' | 'broadcast' | 'history' | 'presence' | 'channels' | 'info';

export interface ApiDeps {
  hub: Hub;
  cluster(): Cluster;
  maxMessageBytes: number;
  /** The node's own part of /api/info; the hub's counters and the cluster's nodes are added here. */
  info(): Omit<InfoResponse, 'subscriptions' | 'channels' | 'nodes'>;
}

/** `data` passed the contract's JsonData (at most MAX_DATA_DEPTH deep), so this recursive stringify stays shallow. */
function checkSize(data: unknown, limit: number): void {
  const size = Buffer.byteLength(JSON.stringify(data));
  if (size > limit) throw new HubbubError('payload_too_large', `data is ${size} bytes, the limit is ${limit}`);
}

/** The REST API handlers; transports provide the /sse, /poll and /ws routes. */
export function apiHandlers(deps: ApiDeps): Pick<RouterHandlers<Api>, RestRoutes> {
  const { hub } = deps;
  return {
    async publish({ body }) {
      checkSize(body.data, deps.maxMessageBytes);
      const pub = await hub.publish(body.channel, body.data, { tags: body.tags, idempotencyKey: body.idempotencyKey });
      return { status: 200, body: { channel: pub.channel, epoch: pub.epoch, offset: pub.offset } };
    },

    async broadcast({ body }) {
      checkSize(body.data, deps.maxMessageBytes);
      const results = await Promise.all(
        body.channels.map(async (channel) => {
          try {
            const pub = await hub.publish(channel, body.data, { tags: body.tags });
            return { channel, epoch: pub.epoch, offset: pub.offset };
          } catch (err) {
            const e = toHubbubError(err);
            return { channel, error: e.toBody() as ErrorBody };
          }
        }),
      );
      return { status: 200, body: { results } };
    },

    async history({ params, query }) {
      try {
        const page = await hub.history(params.channel, query);
        return { status: 200, body: page };
      } catch (err) {
        if (err instanceof UnrecoverablePositionError) {
          throw new HubbubError('unrecoverable_position', err.message, undefined, { cause: err });
        }
        throw err;
      }
    },

    async presence({ params }) {
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
  };
}
