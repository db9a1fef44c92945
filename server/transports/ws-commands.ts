import type { ClientFrame } from '../../contract/index.js';
import { HubbubError, toHubbubError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import type { TransportEnv } from './transport.js';
import type { SubscribeCommand, WsConnection } from './ws-connection.js';

// What each WebSocket command does, once the frame is valid. The session decides who may do
// what; these functions only turn its answers into exactly one reply per command.

type Command<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;

export class WsCommands {
  constructor(private readonly env: TransportEnv) {}

  /** One command, in its connection's order; never throws: every failure becomes its reply. */
  async run(conn: WsConnection, cmd: ClientFrame): Promise<void> {
    const first = conn.commandsSeen === 0;
    conn.commandsSeen += 1;
    try {
      switch (cmd.type) {
        case 'connect':
          return await this.connect(conn, cmd, first);
        case 'ping':
          return conn.send(JSON.stringify({ id: cmd.id, type: 'pong' }));
        case 'subscribe':
          return await this.subscribe(conn, cmd);
        case 'unsubscribe':
          return this.unsubscribe(conn, cmd.channel, cmd.id);
        case 'refresh':
          return await this.refresh(conn, cmd);
        case 'publish':
          return await this.publish(conn, cmd);
      }
    } catch (err) {
      const e = toHubbubError(err);
      if (e.code === 'internal') this.env.log(`websocket ${cmd.type} failed`, err);
      conn.error(e.code, cmd.id, e.message, e.issues);
    }
  }

  /** Token channels and the server API: subscriptions the client did not ask for (recovering from `since` when it says where it was). */
  serverSubscribe(conn: WsConnection, channel: string, since?: Command<'subscribe'>['since']): boolean {
    if (conn.closed || conn.channels.has(channel) || conn.channels.size >= this.env.config.maxChannels) return false;
    this.start(conn, channel, { id: 0, answered: false }, since);
    return true;
  }

  serverUnsubscribe(conn: WsConnection, channel: string): boolean {
    if (conn.closed || !conn.channels.has(channel)) return false;
    this.unsubscribe(conn, channel, 0);
    return true;
  }

  private async connect(conn: WsConnection, cmd: Command<'connect'>, first: boolean): Promise<void> {
    if (!first) throw new HubbubError('invalid_frame', 'connect must be the first command of a connection');
    await conn.session.authenticate(cmd.token, 'connect');
    const { session } = conn;
    const max = this.env.config.maxChannels;
    // As SSE and long-poll refuse such a request: dropping the extra channels would be silent.
    if (session.identity.channels.length > max) {
      throw new HubbubError('too_many_channels', `the token lists ${session.identity.channels.length} channels, the limit is ${max}`);
    }
    const reply: Record<string, unknown> = {
      id: cmd.id,
      type: 'connected',
      client: session.client,
      node: this.env.node.id,
      version: this.env.node.version,
      pingInterval: this.env.config.pingInterval * 1000,
      user: session.user,
    };
    if (session.expiresAt !== undefined) reply['expires'] = session.expiresAt;
    reply['channels'] = session.identity.channels;
    conn.send(JSON.stringify(reply));
    for (const channel of session.identity.channels) this.serverSubscribe(conn, channel, cmd.positions?.[channel]);
  }

  private async subscribe(conn: WsConnection, cmd: Command<'subscribe'>): Promise<void> {
    const { config } = this.env;
    if (conn.channels.has(cmd.channel)) throw new HubbubError('already_subscribed');
    if (conn.channels.size >= config.maxChannels) {
      throw new HubbubError('too_many_channels', `a connection may subscribe to ${config.maxChannels} channels`);
    }
    await conn.session.authorizeSubscribe(cmd.channel, cmd.token);
    if (conn.closed) return;
    this.start(conn, cmd.channel, { id: cmd.id, answered: false }, cmd.since);
  }

  private start(conn: WsConnection, channel: string, pending: SubscribeCommand, since: Command<'subscribe'>['since']): void {
    conn.channels.set(channel, pending);
    this.env.hub.subscribe(channel, conn, since).catch((err: unknown) => {
      // Not ours any more: cancelled (and answered) by an unsubscribe, or the connection closed.
      if (conn.closed || conn.channels.get(channel) !== pending) return;
      conn.channels.delete(channel);
      conn.session.forget(channel);
      const e = err instanceof SubscriptionAbortedError ? new HubbubError('internal', undefined, undefined, { cause: err }) : toHubbubError(err);
      if (e.code === 'internal') this.env.log(`subscribe to ${channel} failed`, err);
      // Failed after its reply (while catching up): the client must resubscribe from its position.
      if (pending.answered) conn.close('insufficient_state');
      else conn.error(e.code, pending.id || undefined, pending.id ? undefined : `the server could not subscribe you to ${channel}`);
    });
  }

  /** `id` 0: the server unsubscribes on its own (server API); the client gets an id-less `unsubscribed`. */
  private unsubscribe(conn: WsConnection, channel: string, id: number): void {
    const pending = conn.channels.get(channel);
    if (!pending) throw new HubbubError('not_subscribed');
    // A subscribe still waiting for its reply gets one now, before this command's.
    if (!pending.answered && pending.id) conn.error('cancelled', pending.id);
    conn.channels.delete(channel);
    conn.session.forget(channel);
    this.env.hub.unsubscribe(channel, conn);
    conn.send(JSON.stringify(id ? { id, type: 'unsubscribed', channel } : { type: 'unsubscribed', channel }));
  }

  private async refresh(conn: WsConnection, cmd: Command<'refresh'>): Promise<void> {
    if (cmd.channel !== undefined) {
      if (!conn.channels.has(cmd.channel)) throw new HubbubError('not_subscribed');
      await conn.session.refreshGrant(cmd.channel, cmd.token);
    } else {
      await conn.session.authenticate(cmd.token, 'refresh');
    }
    const expires = conn.session.expiresAt;
    conn.send(JSON.stringify(expires === undefined ? { id: cmd.id, type: 'refreshed' } : { id: cmd.id, type: 'refreshed', expires }));
  }

  private async publish(conn: WsConnection, cmd: Command<'publish'>): Promise<void> {
    const subscribed = conn.channels.get(cmd.channel)?.answered === true;
    const pub = await this.env.publishing.publish({ kind: 'client', session: conn.session, subscribed }, cmd);
    conn.send(JSON.stringify({ id: cmd.id, type: 'published', channel: pub.channel, epoch: pub.epoch, offset: pub.offset }));
  }
}
