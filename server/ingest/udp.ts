import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Listener } from '../app.js';
import { HubbubError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { IngestGate } from './gate.js';

// The UDP door (--ingest-udp): one JSON publish per datagram, no reply. At most once by nature: a
// datagram lost by the network or dropped by a full socket buffer is gone, and nobody is told.
// With --ingest-udp-secret every datagram is `<hex HMAC-SHA256 of the JSON> <JSON>`; an unsigned
// or wrongly signed one is refused (counted, never published). Beyond loopback a secret is
// required (config.ts). Replays of a signed datagram are not detected: an idempotencyKey is.

/** Publishes waiting on the broker before more datagrams are refused (a flood must not queue without bound). */
const MAX_IN_FLIGHT = 4096;
const SIGNATURE = /^[0-9a-fA-F]{64} /;
/**
 * Socket receive buffer asked for: bursts queue here while the node fans out. The kernel caps it
 * at net.core.rmem_max (Linux doubles what it grants); with the 208 KiB default, a burst of 5,000
 * datagrams lost 78% of them in the bench (docs/ingest.md).
 */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpIngestOptions {
  host: string;
  port: number;
  maxBytes: number;
  secret: string | undefined;
}

export class UdpIngest implements Listener {
  readonly name = 'ingest-udp';
  private socket: Socket | undefined;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly gate: IngestGate,
    private readonly options: UdpIngestOptions,
    private readonly logger: Logger,
  ) {}

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  async start(): Promise<void> {
    const { host, port } = this.options;
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', recvBufferSize: RECV_BUFFER_BYTES });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.logger.error('ingest udp: socket error', err));
    socket.on('message', (msg) => this.receive(msg));
    this.socket = socket;
    this.logger.info(`ingest: UDP ${host}:${this.port}${this.options.secret ? ' (HMAC-signed datagrams only)' : ''}`);
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private receive(msg: Buffer): void {
    const { maxBytes, secret } = this.options;
    if (msg.length > maxBytes) return void this.gate.oversize(`a datagram of ${msg.length} bytes`, maxBytes);
    let body = msg;
    if (secret !== undefined) {
      const signed = verify(msg, secret);
      if (!signed) return void this.gate.failed('refused', new HubbubError('unauthorized', 'the datagram is not signed with the ingest secret'));
      body = signed;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      return void this.gate.failed('refused', new HubbubError('rate_limited', `more than ${MAX_IN_FLIGHT} datagrams wait on the broker`));
    }
    this.inFlight += 1;
    void this.gate.publish(body.toString('utf8')).finally(() => {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    });
  }
}

/**
 * The JSON of a correctly signed datagram, or undefined. The signature covers the JSON as sent
 * less trailing whitespace, so `echo "$sig $body"` (which adds a newline) verifies too.
 */
export function verify(msg: Buffer, secret: string): Buffer | undefined {
  const head = msg.subarray(0, 65).toString('latin1');
  if (!SIGNATURE.test(head)) return undefined;
  const body = trimEnd(msg.subarray(65));
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(head.slice(0, 64), 'hex');
  return timingSafeEqual(expected, given) ? body : undefined;
}

/** `<hex HMAC-SHA256> <json>`: what a producer sends (the shell recipe is in docs/ingest.md). */
export function sign(json: string, secret: string): string {
  return `${createHmac('sha256', secret).update(json).digest('hex')} ${json}`;
}

function trimEnd(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x0a || b[end - 1] === 0x0d || b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
  return b.subarray(0, end);
}
