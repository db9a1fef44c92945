import type { Listener } from '../app.js';
import type { Config } from '../config.js';
import type { Core } from '../core.js';
import { udpAddress } from './address.js';
import { IngestGate } from './gate.js';
import { NatsIngest } from './nats.js';
import { UdpIngest } from './udp.js';
import { UnixIngest } from './unix.js';

// The ingest doors a node opens, from its settings (docs/ingest.md): each one off unless asked
// for, except NATS requests, on by default in cluster mode (a NATS client can already reach the
// node's streams: the door adds no exposure, only validation).

export function ingestListeners(config: Config): (core: Core) => Listener[] {
  return (core) => {
    const out: Listener[] = [];
    if (config.ingestUnix !== undefined) {
      out.push(
        new UnixIngest(
          new IngestGate(core, 'unix'),
          { path: config.ingestUnix, mode: config.ingestUnixMode, maxLineBytes: config.maxMessageBytes, finishMs: config.shutdownTimeout * 1000 },
          core.logger,
        ),
      );
    }
    if (config.ingestUdp !== undefined) {
      const { host, port } = udpAddress(config.ingestUdp);
      out.push(new UdpIngest(new IngestGate(core, 'udp'), { host, port, maxBytes: config.ingestUdpMaxBytes, secret: config.ingestUdpSecret }, core.logger));
    }
    if (config.nats !== undefined && config.ingestNats) {
      out.push(new NatsIngest(new IngestGate(core, 'nats'), { servers: config.nats.split(','), prefix: config.natsPrefix, nodeId: config.nodeId }, core.logger));
    }
    return out;
  };
}
