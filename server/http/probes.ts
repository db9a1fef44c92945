import type { Api, HealthResponse, ReadyResponse } from '../../contract/index.js';
import type { Broker } from '../broker/broker.js';
import type { Config } from '../config.js';
import { HubbubError } from '../errors.js';
import { VERSION } from '../version.js';
import type { RouterHandlers } from './adapter.js';

// The probes a load balancer or Kubernetes asks without a key: /health (the process answers) and
// /ready (it should get traffic: not draining, its broker connected).

/** What the probes read of the node. */
export interface ProbeDeps {
  config: Pick<Config, 'nodeId'>;
  broker: Pick<Broker, 'kind' | 'ready'>;
  startedAt: number;
  isClosing(): boolean;
}

export function health(node: ProbeDeps): HealthResponse {
  return { status: 'ok', node: node.config.nodeId, version: VERSION, uptime: (Date.now() - node.startedAt) / 1000 };
}

/** Throws `unavailable` (503) while the node should get no traffic. */
export function readiness(node: ProbeDeps): ReadyResponse {
  if (node.isClosing()) throw new HubbubError('unavailable', 'the node is draining');
  if (!node.broker.ready) throw new HubbubError('unavailable', `the node's ${node.broker.kind} broker is disconnected`);
  return { status: 'ready', node: node.config.nodeId, broker: node.broker.kind };
}

export function probeHandlers(node: ProbeDeps): Pick<RouterHandlers<Api>, 'health' | 'ready'> {
  return {
    health: async () => ({ status: 200, body: health(node) }),
    ready: async () => ({ status: 200, body: readiness(node) }),
  };
}
