import { chmod, lstat, unlink } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import type { IngestReply } from '../../contract/ingest.js';
import type { Listener } from '../app.js';
import type { Logger } from '../logger.js';
import type { IngestGate } from './gate.js';
import { type LineEvent, LineSplitter } from './lines.js';

// The Unix socket door (--ingest-unix): newline-delimited JSON in, one reply line out per line, in
// order. Who may connect is who may publish: the socket file's mode (--ingest-unix-mode) and owner
// are the permission. Lines of one connection are pipelined: up to IN_FLIGHT_MAX publishes are
// started in line order without waiting for the previous one, and their replies written in line
// order. Both brokers take offsets in call order (the memory broker synchronously, NATS through
// one append lane per channel), so a channel still gets a connection's lines in line order.
// Reading pauses while replies back up or lines queue, so a fast writer cannot flood memory.

/** Lines queued per connection before reading pauses. */
const QUEUE_HIGH = 256;
/** Publishes started per connection whose replies are not written yet. */
const IN_FLIGHT_MAX = 64;

export interface UnixIngestOptions {
  path: string;
  mode: number;
  /** Longest line in bytes (the REST body limit). */
  maxLineBytes: number;
  /** On stop, how long connections get to answer the lines they sent. */
  finishMs: number;
}

export class UnixIngestError extends Error {
  override readonly name = 'UnixIngestError';
}

export class UnixIngest implements Listener {
  readonly name = 'ingest-unix';
  private server: Server | undefined;
  private readonly connections = new Set<LineConnection>();

  constructor(
    private readonly gate: IngestGate,
    private readonly options: UnixIngestOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const { path, mode } = this.options;
    await removeStale(path);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    // The file is created with the umask's mode: narrow it first, so no connection slips in before the chmod.
    const umask = process.umask(~mode & 0o777);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    await chmod(path, mode);
    server.on('error', (err) => this.logger.error('ingest unix: socket error', err));
    this.server = server;
    this.logger.info(`ingest: Unix socket ${path} (mode ${mode.toString(8).padStart(4, '0')})`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Lines already read are answered; a client that never reads its replies is cut off.
    let timer: NodeJS.Timeout | undefined;
    const answered = Promise.all([...this.connections].map((c) => c.finish()));
    await Promise.race([answered, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.finishMs)))]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await closed;
    await unlink(this.options.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.logger.warn(`ingest unix: could not remove ${this.options.path}`, err);
    });
  }

  private accept(socket: Socket): void {
    const conn = new LineConnection(socket, this.gate, this.options.maxLineBytes, this.logger);
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }
}

/**
 * A socket file left by a node that died is replaced; a live one (someone answers) or a file that
 * is not a socket is never touched: starting fails instead.
 */
async function removeStale(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stat) return;
  if (!stat.isSocket()) throw new UnixIngestError(`--ingest-unix ${path} exists and is not a socket: not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new UnixIngestError(`--ingest-unix ${path}: another process is listening on it`);
  await unlink(path);
}

/** A line handed to the gate: its reply once the publish settled. */
interface Started {
  reply: IngestReply | undefined;
  settled: Promise<unknown>;
}

/** One client of the socket: its lines published in order, up to IN_FLIGHT_MAX at once, answered in order. */
class LineConnection {
  /** Lines read, not handed to the gate yet. */
  private readonly queue: LineEvent[] = [];
  /** Lines handed to the gate, in line order: replies leave from the front only. */
  private readonly inFlight: Started[] = [];
  private running: Promise<void> | undefined;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly gate: IngestGate,
    private readonly limit: number,
    private readonly logger: Logger,
  ) {
    const lines = new LineSplitter(limit);
    const emit = (e: LineEvent) => this.enqueue(e);
    socket.on('data', (chunk: Buffer) => lines.push(chunk, emit));
    socket.on('end', () => {
      lines.end(emit);
      this.ended = true;
      this.kick();
    });
    socket.on('error', (err) => this.logger.debug('ingest unix: connection error', { err: String(err) }));
  }

  /** Stops reading, answers what was already read (publishes in flight included), then closes. */
  async finish(): Promise<void> {
    this.socket.pause();
    this.ended = true;
    this.kick();
    await this.running;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private enqueue(e: LineEvent): void {
    this.queue.push(e);
    if (this.queue.length >= QUEUE_HIGH) this.socket.pause();
    this.start();
    this.kick();
  }

  /**
   * Hands queued lines to the gate in line order. gate.publish reaches the broker's publish without
   * an await for an ingest caller, so the calls, and with them each channel's offsets, follow the lines.
   */
  private start(): void {
    while (this.queue.length > 0 && this.inFlight.length < IN_FLIGHT_MAX && !this.socket.destroyed) {
      const e = this.queue.shift()!;
      if ('line' in e) {
        const s: Started = { reply: undefined, settled: Promise.resolve() };
        s.settled = this.gate.publish(e.line).then((reply) => (s.reply = reply));
        this.inFlight.push(s);
      } else {
        this.inFlight.push({ reply: this.gate.oversize('the line', this.limit), settled: Promise.resolve() });
      }
    }
  }

  /** Runs the writer unless it runs already; once the client has ended and all is answered, ends too. */
  private kick(): void {
    if (this.running) return;
    if (this.socket.destroyed) {
      this.queue.length = 0;
      this.inFlight.length = 0;
      return;
    }
    if (this.queue.length === 0 && this.inFlight.length === 0) {
      // Everything answered and flushed: nothing more can come or go.
      if (this.ended) this.socket.end(() => this.socket.destroy());
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  /** Writes the replies in line order: every settled one at the front goes out in one write. */
  private async drain(): Promise<void> {
    while (!this.socket.destroyed) {
      this.start();
      const head = this.inFlight[0];
      if (!head) return;
      if (head.reply === undefined) {
        await head.settled;
        continue;
      }
      let out = '';
      while (this.inFlight[0]?.reply !== undefined) out += `${JSON.stringify(this.inFlight.shift()!.reply)}\n`;
      const flushed = this.socket.write(out);
      // A client that does not read its replies is not read from either: nothing more starts, the queue fills, reading pauses.
      if (!flushed) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
      if (this.queue.length < QUEUE_HIGH / 4 && !this.ended) this.socket.resume();
    }
  }
}
