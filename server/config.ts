import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * Every setting has one flag and one HUBBUB_* variable; flags win over the environment.
 * A bad value stops the server with a message naming the setting.
 */
const SETTINGS = {
  port: { flag: 'port', env: 'HUBBUB_PORT', schema: z.coerce.number().int().min(0).max(65535).default(8080), doc: 'HTTP port' },
  host: { flag: 'host', env: 'HUBBUB_HOST', schema: z.string().min(1).default('0.0.0.0'), doc: 'Interface to listen on' },
  apiKey: {
    flag: 'api-key',
    env: 'HUBBUB_API_KEY',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    doc: 'Key for the REST API; generated and printed at start when unset',
  },
  historySize: {
    flag: 'history-size',
    env: 'HUBBUB_HISTORY_SIZE',
    schema: z.coerce.number().int().min(0).max(100_000).default(100),
    doc: 'Publications kept per channel',
  },
  historyTtl: {
    flag: 'history-ttl',
    env: 'HUBBUB_HISTORY_TTL',
    schema: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(300),
    doc: 'Seconds a publication stays in history',
  },
  historyMetaTtl: {
    flag: 'history-meta-ttl',
    env: 'HUBBUB_HISTORY_META_TTL',
    schema: z.coerce.number().int().min(1).max(365 * 24 * 3600).default(30 * 24 * 3600),
    doc: 'Seconds a quiet channel keeps its position (epoch and offset) after its last publication, so a client that missed nothing still recovers (30 days)',
  },
  maxMessageBytes: {
    flag: 'max-message-bytes',
    env: 'HUBBUB_MAX_MESSAGE_BYTES',
    schema: z.coerce.number().int().min(64).max(16 * 1024 * 1024).default(65_536),
    doc: 'Largest request body or WebSocket frame, in bytes',
  },
  maxChannels: {
    flag: 'max-channels',
    env: 'HUBBUB_MAX_CHANNELS',
    schema: z.coerce.number().int().min(1).max(10_000).default(128),
    doc: 'Channels per connection or per SSE/poll request',
  },
  pollTimeout: {
    flag: 'poll-timeout',
    env: 'HUBBUB_POLL_TIMEOUT',
    schema: z.coerce.number().int().min(1).max(120).default(25),
    doc: 'Seconds a long-poll waits before returning empty',
  },
  pingInterval: {
    flag: 'ping-interval',
    env: 'HUBBUB_PING_INTERVAL',
    schema: z.coerce.number().int().min(1).max(600).default(25),
    doc: 'Seconds between WebSocket pings and SSE heartbeats; a connection whose socket takes no bytes for one interval is dropped',
  },
  maxQueueBytes: {
    flag: 'max-queue-bytes',
    env: 'HUBBUB_MAX_QUEUE_BYTES',
    schema: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).default(4 * 1024 * 1024),
    doc: 'Outgoing bytes buffered per connection before it is dropped as a slow consumer',
  },
  shutdownTimeout: {
    flag: 'shutdown-timeout',
    env: 'HUBBUB_SHUTDOWN_TIMEOUT',
    schema: z.coerce.number().int().min(0).max(600).default(10),
    doc: 'Seconds to finish in-flight requests on SIGINT/SIGTERM',
  },
  nodeId: {
    flag: 'node-id',
    env: 'HUBBUB_NODE_ID',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only').optional(),
    doc: 'Node name, unique in the cluster (default: random)',
  },
  nats: {
    flag: 'nats',
    env: 'HUBBUB_NATS_URL',
    schema: z
      .string()
      .regex(/^(nats|tls|ws|wss):\/\/[^,\s]+(,(nats|tls|ws|wss):\/\/[^,\s]+)*$/, 'comma-separated nats://host:port URLs')
      .optional(),
    doc: 'NATS server URL(s), comma-separated; unset = the embedded single-node memory broker',
  },
  natsPrefix: {
    flag: 'nats-prefix',
    env: 'HUBBUB_NATS_PREFIX',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only, at most 32').default('hubbub'),
    doc: 'Subject and stream prefix, so several deployments can share one NATS',
  },
  natsReplicas: {
    flag: 'nats-replicas',
    env: 'HUBBUB_NATS_REPLICAS',
    schema: z.coerce.number().int().refine((n) => [1, 3, 5].includes(n), 'must be 1, 3 or 5').default(1),
    doc: 'JetStream replicas of the history stream (at most the NATS cluster size)',
  },
  nodeHeartbeat: {
    flag: 'node-heartbeat',
    env: 'HUBBUB_NODE_HEARTBEAT',
    schema: z.coerce.number().int().min(1).max(300).default(5),
    doc: 'Seconds between cluster heartbeats; a silent node is dropped after three',
  },
  presenceEvents: {
    flag: 'presence-events',
    env: 'HUBBUB_PRESENCE_EVENTS',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]*(,[A-Za-z0-9_-]+)*$/, 'comma-separated namespaces')
      .default('')
      .transform((s) => (s === '' ? [] : s.split(','))),
    doc: 'Namespaces whose channels get join/leave publications (e.g. chat)',
  },
} as const;

type Settings = typeof SETTINGS;
export type Config = { -readonly [K in Exclude<keyof Settings, 'apiKey' | 'nodeId'>]: z.output<Settings[K]['schema']> } & {
  apiKey: string;
  nodeId: string;
  /** true when the API key was generated at start (print it once). */
  apiKeyGenerated: boolean;
};

export const CONFIG_SETTINGS = SETTINGS;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ConfigSource {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
}

function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Set<string>(Object.values(SETTINGS).map((s) => s.flag));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (flags look like --port 9000)`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.has(name)) throw new ConfigError(`unknown flag --${name}; known flags: ${[...known.keys()].map((k) => `--${k}`).join(', ')}`);
    let value: string | undefined = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

export function loadConfig(source: ConfigSource = {}): Config {
  const env = source.env ?? {};
  const flags = parseFlags(source.argv ?? []);
  const result: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromFlag = flags.get(s.flag);
    const raw = fromFlag ?? (env[s.env] === '' ? undefined : env[s.env]);
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const where = fromFlag !== undefined ? `--${s.flag}` : s.env;
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      throw new ConfigError(`invalid setting ${where}=${JSON.stringify(raw)}: ${why}`);
    }
    result[key] = parsed.data;
  }
  const apiKey = result['apiKey'] as string | undefined;
  return {
    ...(result as Omit<Config, 'apiKey' | 'apiKeyGenerated' | 'nodeId'>),
    apiKey: apiKey ?? randomBytes(24).toString('base64url'),
    apiKeyGenerated: apiKey === undefined,
    nodeId: (result['nodeId'] as string | undefined) ?? `node-${randomBytes(4).toString('hex')}`,
  };
}
