// --channels: many small channels against one big one, on the same server process. 10,000 channels
// × 2 subscribers by default, publications spread over all of them (POST /api/broadcast, 1,000
// channels a request), as many deliveries as the one-channel fan-out (subscribers × messages).
// In NATS mode, the nats-server's subscription count shows whether interest grows per channel.
import type { BenchConfig } from './bench.js';
import type { ClientPool } from './client-pool.js';
import { type Delivery, type System, fanOut, median, openOrThrow, spread, warmUp } from './phases.js';
import { dec, int, ratio, table } from './report.js';
import type { Transport } from './subscribers.js';
import { type BenchNats, type SystemOptions, startersFor, withSystem } from './systems.js';

export interface ChannelsResult {
  system: System['name'];
  mode: System['mode'];
  transport: Transport;
  oneChannel: Delivery;
  manyChannels: Delivery;
  channels: number;
  subscribers: number;
  failed: number;
  /** Fewer subscribers than channels × per channel: the server's fd limit leaves no room for more. */
  capped: boolean;
  /** nats-server subscriptions before and with the many-channel subscribers open (NATS modes). */
  natsSubscriptions: { before: number; open: number } | undefined;
}

async function compare(pool: ClientPool, sys: System, t: Transport, nats: BenchNats | undefined, config: BenchConfig, log: (l: string) => void): Promise<ChannelsResult> {
  await warmUp(pool, sys, t, config.stallMs);
  await openOrThrow(pool, sys, t, ['bench:fan'], config.subscribers);
  const one: Delivery[] = [];
  for (let i = 0; i < config.runs(t); i++) one.push(await fanOut(pool, sys, 'bench:fan', config.subscribers, config.messages, config.stallMs));
  await pool.close();
  const channels = Array.from({ length: config.channelCount }, (_, k) => `bench:c${k}`);
  // Room for the server's own files and the publisher under the fd limit (see scale.ts).
  const wanted = Math.min(config.channelCount * config.perChannel, config.fdLimit - 64);
  const before = sys.mode !== 'memory' && nats ? await nats.subscriptions() : undefined;
  const opened = await openOrThrow(pool, sys, t, channels, wanted);
  const natsSubscriptions = before !== undefined && nats ? { before, open: await nats.subscriptions() } : undefined;
  // Same deliveries as the one-channel case, rounded to whole rounds over all channels.
  const rounds = Math.max(1, Math.round((config.subscribers * config.messages) / wanted));
  const many: Delivery[] = [];
  for (let i = 0; i < config.runs(t); i++) many.push(await spread(pool, sys, channels, opened.opened, rounds, config.stallMs));
  const r = { oneChannel: median(one), manyChannels: median(many) };
  log(`${sys.name} ${sys.mode} ${t}: one channel ${r.oneChannel.perSecond}/s ${r.oneChannel.cpuPerDelivery} µs; ${config.channelCount} channels ${r.manyChannels.perSecond}/s ${r.manyChannels.cpuPerDelivery} µs, lost ${r.manyChannels.lost}${r.manyChannels.shortfall ? ` (subscribers by publications received: ${JSON.stringify(r.manyChannels.shortfall)})` : ''}, recovered:false ${r.manyChannels.unrecovered}, publishes failed ${r.manyChannels.publishFailed}`);
  return { system: sys.name, mode: sys.mode, transport: t, ...r, channels: config.channelCount, subscribers: opened.opened, failed: opened.failed, capped: wanted < config.channelCount * config.perChannel, natsSubscriptions };
}

export async function runChannels(pool: ClientPool, nats: BenchNats | undefined, config: BenchConfig, opts: SystemOptions, log: (l: string) => void): Promise<{ results: ChannelsResult[]; markdown: string }> {
  const results: ChannelsResult[] = [];
  for (const mode of config.modes) {
    for (const t of config.transports) {
      for (const start of startersFor(mode, nats, opts)) results.push(await withSystem(start, pool, (sys) => compare(pool, sys, t, nats, config, log)));
    }
  }
  const rows = results.map((r) => [
    `${r.transport}${r.mode === 'memory' ? '' : `, ${r.mode}`}`,
    r.system,
    `${int(r.subscribers)}${r.capped ? ' (fd limit)' : ''}${r.failed ? ` (${r.failed} failed)` : ''}`,
    int(r.oneChannel.perSecond),
    int(r.manyChannels.perSecond),
    ratio(r.manyChannels.perSecond, r.oneChannel.perSecond),
    dec(r.oneChannel.cpuPerDelivery),
    dec(r.manyChannels.cpuPerDelivery),
    ratio(r.manyChannels.cpuPerDelivery, r.oneChannel.cpuPerDelivery),
    `${r.oneChannel.lost} / ${r.manyChannels.lost}`,
    `${r.oneChannel.unrecovered} / ${r.manyChannels.unrecovered}`,
    r.natsSubscriptions ? `${r.natsSubscriptions.before} → ${r.natsSubscriptions.open}` : '',
  ]);
  const head = ['transport', 'system', 'subscribers (many)', 'one channel deliveries/s', `${config.channelCount} channels × ${config.perChannel}`, '÷ one', 'one µs/delivery', 'many µs/delivery', '÷ one', 'lost (one / many)', 'recovered:false', 'NATS subscriptions'];
  return { results, markdown: `Many channels against one (${config.subscribers} subscribers × ${config.messages} messages on one channel):\n\n${table(head, rows)}` };
}
