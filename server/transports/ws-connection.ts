import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { DISCONNECT_TABLE, type DisconnectName, type ErrorCode, type SubscribeResult, errorBody } from '../../contract/index.js';
import type { HubbubError } from '../errors.js';
import type { Subscriber } from '../hub/subscriber.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ConnectionHandle, Session } from '../session/session.js';
import type { TurnWrites } from './turn-writes.js';
import { StallWatch } from './ticker.js';

const TEXT = { binary: false } as const;

/** One subscribe of a connection: its reply is still owed until `answered`. */
export interface SubscribeCommand {
  /** The command's id; 0 for a subscription the server made (token channels, the server API). */
  readonly id: number;
  answered: boolean;
}

/** The server-side subscribe/unsubscribe the connection's session may ask for (WsCommands). */
export interface ServerCommands {
  serverSubscribe(conn: WsConnection, channel: string): boolean;
  serverUnsubscribe(conn: WsConnection, channel: string): boolean;
}

/** Commands a connection may have queued behind a slow one (a token check, a publish): past it the client is flooding. */
const MAX_QUEUED = 256;

// Per-connection memory: the connection is its session's handle itself and keeps no closures but
// its socket's drain listener. (tsx names every closure stored in a property or a variable, which
// turns the function into a slow-property object of ~300 B, so per-connection functions are
// prototype methods or anonymous arguments.)
export class WsConnection implements Subscriber<Buffer>, ConnectionHandle {
  /** channel → the subscribe command that holds it. */
  readonly channels = new Map<string, SubscribeCommand>();
  alive = true;
  closed = false;
  readonly watch: StallWatch;
  /** Valid commands processed so far: `connect` is only accepted as the first. */
  commandsSeen = 0;
  /** Consecutive commands refused by the rate limit; past a few bursts the connection is closed. */
  refusals = 0;
  /** Closes a socket that sends nothing at all after it opened. */
  connectTimer: NodeJS.Timeout | undefined;
  /**
   * Commands run one at a time, in arrival order: a `connect` decides how the next ones are judged.
   * Dropped once the queue is empty, so an idle connection holds no settled promise.
   */
  private queue: Promise<void> | undefined;
  private queued = 0;
  /**
   * What waits for the socket to drain: the shared encoded frames themselves, never copies. The
   * socket is fed only up to its high-water mark, so when the budget runs out the close frame
   * waits behind that (and what the kernel already took), not behind the whole budget.
   */
  private backlog: Array<Buffer | string> = [];
  private backlogBytes = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly socket: Socket,
    readonly codec: Subscriber<Buffer>['codec'],
    readonly session: Session,
    private readonly maxQueueBytes: number,
    private readonly commands: ServerCommands,
    private readonly turn: TurnWrites,
    private readonly metrics: Pick<Metrics, 'disconnected'>,
  ) {
    this.watch = new StallWatch(socket);
    socket.on('drain', () => this.flush());
  }

  disconnect(reason: 'token_expired' | 'disconnected_by_server' | 'rate_limited' | 'forbidden'): void {
    this.close(reason);
  }

  async subscribe(channel: string): Promise<boolean> {
    return this.commands.serverSubscribe(this, channel);
  }

  unsubscribe(channel: string): boolean {
    return this.commands.serverUnsubscribe(this, channel);
  }

  /** Who the connection is, for presence: its session. */
  get identity(): Session {
    return this.session;
  }

  onSubscribed(result: SubscribeResult): void {
    const cmd = this.channels.get(result.channel);
    if (!cmd || cmd.answered) return;
    cmd.answered = true;
    this.send(JSON.stringify(cmd.id ? { id: cmd.id, type: 'subscribed', ...result } : { type: 'subscribed', ...result }));
  }

  /**
   * Runs `work` after every command before it; false when too many wait (the caller closes the
   * connection). `work` answers its own failures; `onBug` gets what it could not.
   */
  enqueue(work: () => Promise<void>, onBug: (err: unknown) => void): boolean {
    if (this.queued >= MAX_QUEUED) return false;
    this.queued += 1;
    this.queue = (this.queue ?? Promise.resolve())
      .then(work)
      .catch(onBug)
      .finally(() => {
        if (--this.queued === 0) this.queue = undefined;
      });
    return true;
  }

  onPublication(frame: Buffer): void {
    this.turn.hold(this.socket);
    this.send(frame);
  }

  onUnrecoverable(): void {
    this.close('insufficient_state');
  }

  send(data: Buffer | string): void {
    if (this.closed) return;
    if (this.backlog.length === 0 && !this.socket.writableNeedDrain) {
      this.ws.send(data, TEXT);
      return;
    }
    this.backlog.push(data);
    this.backlogBytes += data.length;
    if (this.backlogBytes + this.socket.writableLength > this.maxQueueBytes) this.close('slow_consumer');
  }

  /**
   * On 'drain': feeds the backlog until the socket is full again, held for the turn like the
   * fan-out's writes, so the frames go out in one writev instead of one syscall each.
   */
  private flush(): void {
    this.turn.hold(this.socket);
    const backlog = this.backlog;
    let i = 0;
    while (i < backlog.length && !this.closed && !this.socket.writableNeedDrain) {
      const data = backlog[i++]!;
      this.backlogBytes -= data.length;
      this.ws.send(data, TEXT);
    }
    backlog.splice(0, i);
  }

  error(code: ErrorCode, id?: number, message?: string, issues?: HubbubError['issues']): void {
    this.send(JSON.stringify({ type: 'error', ...(id ? { id } : {}), ...errorBody(code, message, issues) }));
  }

  /**
   * Sends the close frame at once: what was not yet written is dropped, the client recovers it.
   * ws destroys the socket if the client has not answered in 30 s; the ticker does it sooner
   * when the socket takes nothing for a whole ping interval.
   */
  close(reason: DisconnectName): void {
    if (this.closed) return;
    this.closed = true;
    this.session.disconnecting(reason);
    this.metrics.disconnected('websocket', reason);
    this.backlog = [];
    this.backlogBytes = 0;
    const row = DISCONNECT_TABLE[reason];
    this.ws.close(row.code, row.reason);
  }
}
