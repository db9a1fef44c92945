import { afterEach, describe, expect, it, vi } from 'vitest';
import { InfoResponse, type PresenceEntry, PresenceResponse, isEmptyEpoch } from '../contract/index.js';
import { subjectSpace } from '../server/broker/nats/subject.js';
import { type Balancer, startBalancer } from './support/balancer.js';
import { type InProcessNode, type NodeProcess, type TestNode, freshPrefix, spawnNode, startNode } from './support/cluster.js';
import {
  type Attempt,
  type ClientSubscriber,
  PublishLog,
  type RawFollower,
  type Subscriber,
  expectHistoryKeepsAcked,
  fetchHistory,
  followRaw,
  resubscriptions,
  seqOf,
  startTcpProxy,
  streamLeader,
  subscribeClient,
  timeUntil,
  trace,
} from './support/faults.js';
import { NatsServer, startCluster as startNatsCluster } from './support/nats-server.js';
import { TRANSPORT_NAMES } from './support/raw-clients.js';

/*
 * Fault injection on a real deployment: Hubbub nodes on NATS JetStream, subscribers on every
 * transport, a publisher that records which publications were acknowledged. Each test breaks one
 * piece (a Hubbub node, the nats-server, one server of a NATS cluster) and checks the promise
 * the design makes: an acknowledged publication reaches every subscriber exactly once, in order.
 */

const CHANNEL = 'faults';
// History large enough to hold every publication of a test, so history can be compared whole.
const ENV = { HUBBUB_HISTORY_SIZE: '1000' };
/** NatsCluster's heartbeat (not configurable from the environment) and its 3-missed-beats rule. */
const HEARTBEAT_MS = 5_000;
const NODE_LIST_BOUND_MS = 3 * HEARTBEAT_MS;
/** NatsCluster's presence query waits this long for a node that stopped answering. */
const PRESENCE_QUERY_TIMEOUT_MS = 1_000;

/** The answer the design promises while NATS cannot store a publication. */
const UNAVAILABLE = { status: 503, code: 'unavailable', retryable: true };
const outcome = (a: Attempt) => ({ status: a.status, code: a.code, retryable: a.retryable });

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    await Promise.race([fn(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]).catch((err: unknown) =>
      console.warn('[faults] cleanup failed', err),
    );
  }
});

function report(what: string, values: Record<string, unknown>): void {
  console.log(`[faults] ${what}: ${JSON.stringify(values)}`);
}

async function spawnNodes(ids: string[], natsUrls: string[], prefix: string): Promise<NodeProcess[]> {
  const settled = await Promise.allSettled(ids.map((id) => spawnNode(id, natsUrls, prefix, ENV)));
  for (const s of settled) if (s.status === 'fulfilled') cleanups.push(() => s.value.kill9());
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<NodeProcess>).value);
}

async function startNodes(ids: string[], natsUrls: string[], prefix: string, env: Record<string, string>): Promise<InProcessNode[]> {
  const nodes: InProcessNode[] = [];
  for (const id of ids) {
    const node = await startNode(id, natsUrls, prefix, { ...ENV, ...env });
    cleanups.push(() => node.close());
    nodes.push(node);
  }
  return nodes;
}

async function balancer(nodes: TestNode[]): Promise<Balancer> {
  const lb = await startBalancer(nodes.map((n) => n.url));
  cleanups.push(() => lb.close());
  return lb;
}

function clients(baseUrl: string): ClientSubscriber[] {
  return TRANSPORT_NAMES.map((t) => track(subscribeClient(baseUrl, t, CHANNEL)));
}

function followers(urls: string[]): RawFollower[] {
  return TRANSPORT_NAMES.map((t) => track(followRaw(t, urls, CHANNEL)));
}

function track<S extends Subscriber>(s: S): S {
  cleanups.push(() => s.close());
  return s;
}

async function untilSubscribed(subs: Array<ClientSubscriber | RawFollower>): Promise<void> {
  await vi.waitFor(
    () => {
      for (const s of subs) expect('states' in s ? s.states.some((e) => e.state === 'subscribed') : s.results.length > 0, s.name).toBe(true);
    },
    { timeout: 15_000 },
  );
}

/** Every subscriber got exactly what history holds: same positions, same data, same order, nothing twice. Returns the wait in ms. */
function untilAllDelivered(subs: Subscriber[], expected: string[], timeout = 20_000): Promise<number> {
  return timeUntil(
    () => {
      for (const s of subs) expect(trace(s.publications), s.name).toEqual(expected);
    },
    timeout,
    200,
  );
}

function expectNoLostPosition(subs: Array<ClientSubscriber | RawFollower>): void {
  for (const s of subs) {
    const later = 'states' in s ? resubscriptions(s.states).recovered : s.results.slice(1).map((r) => r.recovered);
    expect(later.filter((r) => !r), `${s.name}: a resubscribe answered recovered:false`).toEqual([]);
  }
}

async function presence(node: TestNode): Promise<PresenceEntry[]> {
  const res = await node.api(`/api/channels/${CHANNEL}/presence`);
  if (res.status !== 200) throw new Error(`presence on ${node.id}: ${res.status} ${await res.text()}`);
  return PresenceResponse.parse(await res.json()).clients;
}

async function info(node: TestNode) {
  return InfoResponse.parse(await (await node.api('/api/info')).json());
}

/** `op` until it resolves (within 20 s), collecting the errors of the failed tries. */
async function retried<T>(op: () => Promise<T>, errors: string[]): Promise<T> {
  let result: { value: T } | undefined;
  await vi.waitFor(
    async () => {
      try {
        result = { value: await op() };
      } catch (err) {
        errors.push(String(err));
        throw err;
      }
    },
    { timeout: 20_000, interval: 250 },
  );
  return result!.value;
}

const picks = (lb: Balancer) => lb.hits.reduce((a, b) => a + b, 0);

/** Sends throwaway requests through the balancer until its next pick is target `index`. */
async function aimBalancer(lb: Balancer, index: number): Promise<void> {
  while (picks(lb) % lb.hits.length !== index) await (await fetch(`${lb.url}/api/info`)).text();
}

describe('cluster faults', () => {
  it('kill -9 of a node: subscribers of every transport get every acknowledged publication once, in order; presence and the node list drop it', async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.close());
    const [n1, n2, n3] = await spawnNodes(['n1', 'n2', 'n3'], [nats.url], freshPrefix());
    await vi.waitFor(async () => expect((await info(n1!)).nodes.map((n) => n.node)).toEqual(['n1', 'n2', 'n3']), { timeout: 15_000 });
    const lb = await balancer([n1!, n2!, n3!]);
    const VICTIM = 2;

    // Raw sessions pinned to n3; they resume on n1 (then n2) from the last position they saw.
    const raws = followers([n3!.url, n1!.url, n2!.url]);
    // Client-library WebSocket and SSE hold one long request each: aim both at n3.
    await aimBalancer(lb, VICTIM);
    const ws = track(subscribeClient(lb.url, 'websocket', CHANNEL));
    await vi.waitFor(() => expect(ws.connections).toEqual(['n3']), { timeout: 10_000 });
    await aimBalancer(lb, VICTIM);
    const sse = track(subscribeClient(lb.url, 'sse', CHANNEL));
    await untilSubscribed([ws, sse]);
    const poll = track(subscribeClient(lb.url, 'poll', CHANNEL));
    const all = [...raws, ws, sse, poll];
    await untilSubscribed(all);
    // Presence lists the WebSocket and SSE connections (long-poll requests have no identity), all on n3.
    const onVictim = (entries: PresenceEntry[]) => entries.filter((e) => e.node === 'n3');
    expect(onVictim(await presence(n1!)).map((e) => e.transport).sort()).toEqual(['sse', 'sse', 'websocket', 'websocket']);

    const log = new PublishLog(CHANNEL);
    const survivors = [n1!, n2!];
    const publishNext = () => log.publish(survivors[log.attempts.length % 2]!);
    while (log.attempts.length < 50) await publishNext();

    // Land the client's waiting long-poll on n3 as well, so every client transport loses its connection:
    // each publication ends the waiting poll and the next one goes to the next node. n3 then serves
    // 6 connections (raw ws, sse, waiting poll; client ws, sse, waiting poll).
    for (let round = 0; ; round++) {
      if (round > 6) throw new Error('could not land the long-poll on n3');
      const before = picks(lb);
      if ((before - 1) % 3 === VICTIM) {
        const waiting = await vi.waitFor(async () => expect((await info(n3!)).connections).toBe(6), { timeout: 3_000 }).then(
          () => true,
          () => false,
        );
        if (waiting) break;
      }
      const a = await publishNext();
      await vi.waitFor(() => {
        expect(picks(lb)).toBeGreaterThan(before);
        expect(poll.publications.map(seqOf)).toContain(a.seq);
      }, { timeout: 10_000 });
    }

    const killedAt = performance.now();
    await n3!.kill9();
    const sinceKill = () => Math.round(performance.now() - killedAt);
    // Presence is scatter-gather: the first answer after the kill must already leave n3 out.
    const presenceAfterKill = Promise.all(
      survivors.map(async (n) => ({ node: n.id, n3Entries: onVictim(await presence(n)).length, ms: sinceKill() })),
    );
    presenceAfterKill.catch(() => undefined);
    const nodeListDrop = Promise.all(
      survivors.map((n) =>
        vi
          .waitFor(async () => expect((await info(n)).nodes.map((x) => x.node)).toEqual(['n1', 'n2']), { timeout: NODE_LIST_BOUND_MS + 5_000, interval: 250 })
          .then(() => sinceKill()),
      ),
    );
    nodeListDrop.catch(() => undefined);
    while (log.attempts.length < 100) await publishNext();

    // Publishing through the surviving nodes never failed, so all of it must arrive.
    expect(log.failed).toEqual([]);
    const history = await fetchHistory(n1!, CHANNEL);
    expectHistoryKeepsAcked(history, log);
    expect(history.publications).toHaveLength(log.acked.length);
    const deliveredMs = await untilAllDelivered(all, trace(history.publications));

    // Every subscriber that was on n3 reconnected elsewhere and recovered from its position.
    for (const c of [ws, sse, poll]) {
      const { reconnects, recovered } = resubscriptions(c.states);
      expect(reconnects, `${c.name} reconnected`).toBeGreaterThan(0);
      expect(recovered.length, `${c.name} subscribed again`).toBeGreaterThan(0);
    }
    for (const r of raws) {
      expect(r.servedBy[0]).toBe(n3!.url);
      expect(r.servedBy.filter((u) => u !== n3!.url).length, `${r.name} resumed on another node`).toBeGreaterThan(0);
      // The first result may be the empty position of a channel nobody had published to yet (0<T>:0).
      const epochs = new Set(r.results.map((x) => x.epoch).filter((e) => !isEmptyEpoch(e)));
      expect(epochs.size, `${r.name}: one epoch on every node`).toBe(1);
    }
    expectNoLostPosition(all);

    const firstPresence = await presenceAfterKill;
    expect(firstPresence.map((p) => p.n3Entries)).toEqual([0, 0]);
    for (const p of firstPresence) expect(p.ms).toBeLessThan(PRESENCE_QUERY_TIMEOUT_MS + 2_000);
    const dropMs = await nodeListDrop;
    for (const ms of dropMs) expect(ms).toBeLessThanOrEqual(NODE_LIST_BOUND_MS + 1_000);
    // The reconnected WebSocket and SSE connections show up again, on the survivors.
    await vi.waitFor(async () => expect((await presence(n1!)).map((e) => e.node).filter((n) => n !== 'n3')).toHaveLength(4), { timeout: 10_000 });

    report('kill -9 of a node', {
      acknowledged: log.acked.length,
      failed: log.failed.length,
      lost: 0,
      presenceWithoutKilledNodeMs: firstPresence.map((p) => `${p.node}:${p.ms}`),
      nodeListWithoutKilledNodeMs: dropMs,
      allDeliveredAfterLastAckMs: deliveredMs,
      clientReconnects: [ws, sse, poll].map((c) => `${c.name}:${resubscriptions(c.states).reconnects}`),
      clientErrors: [ws, sse, poll].flatMap((c) => c.errors),
    });
  }, 60_000);

  it('nats-server crash and restart: 503 unavailable during the outage, then publishing and delivery resume with nothing acknowledged lost', async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.close());
    const nodes = await startNodes(['n1', 'n2'], [nats.url], freshPrefix(), {});
    // Runs before the nodes close: a test that failed mid-outage still lets them drain.
    cleanups.push(async () => nats.running || nats.restart());
    const lb = await balancer(nodes);
    const subs = [...clients(lb.url), ...followers(nodes.map((n) => n.url))];
    await untilSubscribed(subs);

    const log = new PublishLog(CHANNEL);
    const publishNext = () => log.publish(nodes[log.attempts.length % 2]!);
    while (log.attempts.length < 10) await publishNext();
    expect(log.failed).toEqual([]);
    const epoch = log.acked[0]!.epoch;
    await untilAllDelivered(subs, trace((await fetchHistory(nodes[0]!, CHANNEL)).publications));

    await nats.kill();
    const outage: number[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await publishNext();
      expect(outcome(a), JSON.stringify(a)).toEqual(UNAVAILABLE);
      outage.push(a.ms);
    }
    expect(Math.max(...outage)).toBeLessThan(5_000);
    const historyDown = await nodes[0]!.api(`/api/channels/${CHANNEL}/history`);
    expect(historyDown.status).toBe(503);

    await nats.restart();
    const restartedAt = performance.now();
    let first: Awaited<ReturnType<typeof publishNext>> | undefined;
    await vi.waitFor(
      async () => {
        const a = await publishNext();
        expect(a.status).toBe(200);
        first = a;
      },
      { timeout: 20_000, interval: 100 },
    );
    const firstAckMs = Math.round(performance.now() - restartedAt);
    const deliveredMs =
      firstAckMs + (await timeUntil(() => subs.forEach((s) => expect(s.publications.map(seqOf), s.name).toContain(first!.seq)), 20_000, 50));
    const failedBeforeResume = log.failed.length - outage.length;
    const afterResume = log.attempts.length;
    while (log.attempts.length < afterResume + 10) await publishNext();
    expect(log.attempts.slice(afterResume).filter((a) => a.status !== 200)).toEqual([]);

    const history = await fetchHistory(nodes[1]!, CHANNEL);
    expect(history.epoch).toBe(epoch);
    expectHistoryKeepsAcked(history, log);
    await untilAllDelivered(subs, trace(history.publications));
    expectNoLostPosition(subs);

    report('nats-server restart', {
      acknowledged: log.acked.length,
      refusedDuringOutage: outage.length,
      outage503Ms: outage,
      failedAfterRestartBeforeFirstAck: failedBeforeResume,
      firstAckAfterRestartMs: firstAckMs,
      deliveredToAllAfterRestartMs: deliveredMs,
      storedButNotAcknowledged: history.publications.length - log.acked.length,
      nodeWarnings: [...new Set(nodes.flatMap((n) => n.warnings))],
    });
  }, 45_000);

  it('three-server NATS cluster, replicas 3: SIGKILL of the stream leader while publishing loses no acknowledged publication', async () => {
    const cluster = await startNatsCluster(3);
    cleanups.push(() => cluster.close());
    const prefix = freshPrefix();
    const env = { HUBBUB_NATS_REPLICAS: '3' };
    const [n1, n2] = await startNodes(['n1', 'n2'], cluster.urls, prefix, env);
    const leader = await streamLeader(cluster.urls, subjectSpace(prefix).stream);
    const victim = cluster.servers[Number(leader.replace(/^n/, ''))]!;
    // n1 and n2 may or may not be connected to the leader (the client picks a server at random); n3 is
    // given the leader's URL alone, so it must fail over to the servers it learnt from the cluster.
    const [n3] = await startNodes(['n3'], [victim.url], prefix, env);
    const nodes = [n1!, n2!, n3!];
    const lb = await balancer(nodes);
    const subs = [...clients(lb.url), ...followers([n3!.url, n1!.url, n2!.url])];
    await untilSubscribed(subs);

    const log = new PublishLog(CHANNEL);
    const publishNext = () => log.publish(nodes[log.attempts.length % nodes.length]!);
    while (log.attempts.length < 40) await publishNext();
    expect(log.failed).toEqual([]);

    // Not awaited: the kill lands while the next publications are in flight.
    const killed = victim.kill();
    const killedAt = log.now();
    const ackedBefore = log.acked.length;
    const deadline = Date.now() + 45_000;
    while (log.acked.length < ackedBefore + 60) {
      if (Date.now() > deadline) throw new Error(`publishing did not resume: ${JSON.stringify(log.failed.slice(-3))}`);
      await publishNext();
    }
    await killed;

    // A publish may fail while a new leader is elected, but only as a retryable 503, never a hang or a 500.
    for (const a of log.failed) {
      expect(outcome(a), JSON.stringify(a)).toEqual(UNAVAILABLE);
      expect(a.ms).toBeLessThan(5_000);
    }
    // 503 is retryable; see the known-bug test below for why a history read may need a retry here.
    const historyErrors: string[] = [];
    const history = await retried(() => fetchHistory(nodes[0]!, CHANNEL), historyErrors);
    expectHistoryKeepsAcked(history, log);
    await untilAllDelivered(subs, trace(history.publications), 30_000);
    expectNoLostPosition(subs);
    expect(n3!.warnings, 'n3 lost its NATS server and reconnected').toEqual(expect.arrayContaining(['NATS disconnected', 'NATS reconnected']));

    const afterKill = log.attempts.filter((a) => a.at >= killedAt);
    const firstAckAfterFailures = afterKill.find((a, i) => a.status === 200 && afterKill.slice(0, i).some((f) => f.status !== 200));
    report('NATS cluster leader kill', {
      killed: leader,
      attempts: log.attempts.length,
      acknowledged: log.acked.length,
      refused503: log.failed.length,
      storedButNotAcknowledged: history.publications.length - log.acked.length,
      slowestFailureMs: Math.max(0, ...log.failed.map((a) => a.ms)),
      slowestAckAfterKillMs: Math.max(...afterKill.filter((a) => a.status === 200).map((a) => a.ms)),
      historyReadsRefused: historyErrors.length,
      acceptingAgainAfterKillMs: firstAckAfterFailures ? firstAckAfterFailures.at + firstAckAfterFailures.ms - killedAt : 0,
      nodeWarnings: nodes.map((n) => `${n.id}: ${[...new Set(n.warnings)].join(', ')}`),
    });
  }, 75_000);

  it('a NATS link that goes silent (no close, as in a partition): publishes answer 503 unavailable in bounded time, then everything resumes', async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.close());
    const link = await startTcpProxy(nats.url);
    cleanups.push(() => link.close());
    const nodes = await startNodes(['n1', 'n2'], [link.url], freshPrefix(), {});
    cleanups.push(async () => link.thaw());
    const lb = await balancer(nodes);
    const subs = [...clients(lb.url), ...followers(nodes.map((n) => n.url))];
    await untilSubscribed(subs);

    const log = new PublishLog(CHANNEL);
    const publishNext = () => log.publish(nodes[log.attempts.length % 2]!);
    while (log.attempts.length < 10) await publishNext();
    expect(log.failed).toEqual([]);
    await untilAllDelivered(subs, trace((await fetchHistory(nodes[0]!, CHANNEL)).publications));

    link.freeze();
    // Nothing can be stored while the link is silent, so every append sent into it (held until the
    // link comes back) claims the same next offset.
    const lastNode = nodes.find((n) => n.id === log.attempts.at(-1)!.node)!;
    const silent: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await log.publish(lastNode);
      expect(outcome(a), JSON.stringify(a)).toEqual(UNAVAILABLE);
      silent.push(a.ms);
    }
    expect(Math.max(...silent)).toBeLessThan(5_000);

    link.thaw();
    const thawedAt = log.now();
    await vi.waitFor(async () => expect((await publishNext()).status).toBe(200), { timeout: 20_000, interval: 100 });
    const firstAckMs = log.now() - thawedAt;
    const resumed = log.attempts.length;
    while (log.attempts.length < resumed + 10) await publishNext();
    expect(log.attempts.slice(resumed).filter((a) => a.status !== 200)).toEqual([]);

    const history = await fetchHistory(nodes[1]!, CHANNEL);
    expectHistoryKeepsAcked(history, log);
    // The three refused publishes claimed the same offset: at most one of them can have been stored.
    const storedRefused = history.publications.length - log.acked.length;
    expect(storedRefused).toBeLessThanOrEqual(1);
    const deliveredMs = await untilAllDelivered(subs, trace(history.publications));
    expectNoLostPosition(subs);

    report('silent NATS link', {
      acknowledged: log.acked.length,
      silent503Ms: silent,
      firstAckAfterThawMs: firstAckMs,
      allDeliveredAfterLastAckMs: deliveredMs,
      // A held publish reaches JetStream when the link comes back: a 503 does not mean "not stored".
      storedButNotAcknowledged: storedRefused,
      nodeWarnings: [...new Set(nodes.flatMap((n) => n.warnings))],
    });
  }, 45_000);

  /*
   * Regression: on nats-server < 2.12 the meta leader may place an ephemeral R1 consumer on a stream
   * peer that is offline (fixed upstream by nats-io/nats-server#7165); its creation then times out.
   * Long history reads (ChannelStore.retained) use such a consumer, so while one of three servers
   * was down about a third of them answered 503. They now fall back to walking the stream.
   */
  it('history reads keep working while one of three NATS servers is down (consumers placed on the dead server)', async () => {
    const cluster = await startNatsCluster(3);
    cleanups.push(() => cluster.close());
    const prefix = freshPrefix();
    const [node] = await startNodes(['n1'], cluster.urls, prefix, { HUBBUB_NATS_REPLICAS: '3' });
    const log = new PublishLog(CHANNEL);
    while (log.attempts.length < 20) await log.publish(node!);
    expect(log.failed).toEqual([]);

    // A server that does not lead the stream: no election, publishing goes on undisturbed.
    const leader = await streamLeader(cluster.urls, subjectSpace(prefix).stream);
    await cluster.servers.find((_, i) => `n${i}` !== leader)!.kill();
    await vi.waitFor(async () => expect((await log.publish(node!)).status).toBe(200), { timeout: 20_000, interval: 250 });

    // More than the walk limit (16) and no `since`: the consumer path. Fifteen reads make a placement
    // on the dead server (one chance in three each) all but certain.
    const reads: Array<{ status: number; ms: number; count: number }> = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      const res = await node!.api(`/api/channels/${CHANNEL}/history`);
      const body = (await res.json()) as { publications?: unknown[] };
      reads.push({ status: res.status, ms: Math.round(performance.now() - started), count: body.publications?.length ?? 0 });
    }
    report('history reads with one of three NATS servers down', { reads: reads.map((r) => `${r.status}:${r.count} in ${r.ms} ms`) });
    expect(reads.filter((r) => r.status !== 200 || r.count !== log.acked.length)).toEqual([]);
  }, 60_000);
});
