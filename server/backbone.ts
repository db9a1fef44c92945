import type { HubbubDeps } from './app.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory.js';
import { NatsBroker } from './broker/nats/broker.js';
import { NatsCluster } from './cluster/nats-cluster.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

// The broker and cluster membership a node runs on, chosen here and nowhere else: NATS when
// `--nats` is set, else the embedded memory broker of a single node.

/** The embedded single-node broker: history in memory (also the app's default when given no broker). */
export function memoryBroker(config: Config): Broker {
  return new MemoryBroker({
    historySize: config.historySize,
    historyTtlMs: config.historyTtl * 1000,
    historyMetaTtlMs: config.historyMetaTtl * 1000,
  });
}

export async function connectBackbone(config: Config, logger: Logger): Promise<Pick<HubbubDeps, 'broker' | 'cluster'>> {
  if (!config.nats) return { broker: memoryBroker(config) };
  const servers = config.nats.split(',');
  const broker = await NatsBroker.connect({
    servers,
    prefix: config.natsPrefix,
    historySize: config.historySize,
    historyTtlMs: config.historyTtl * 1000,
    historyMetaTtlMs: config.historyMetaTtl * 1000,
    replicas: config.natsReplicas,
    name: `hubbub-${config.nodeId}`,
    logger,
  });
  return {
    broker,
    cluster: (local) =>
      NatsCluster.connect(local, { servers, prefix: config.natsPrefix, heartbeatMs: config.nodeHeartbeat * 1000, logger }),
  };
}
