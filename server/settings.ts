import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';

// Every setting has one flag, one HUBBUB_* variable and one key in the config file (its name
// here); flags win over the environment, which wins over the file. The README table and the
// config file's JSON Schema are generated from this table.

export interface Setting {
  flag: string;
  env: string;
  schema: z.ZodTypeAny;
  doc: string;
}

/** A setting's default as text ('(none)' for an empty list), or undefined when it has none. */
export function defaultText(s: Setting): string | undefined {
  const parsed = s.schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return undefined;
  if (Array.isArray(parsed.data) && parsed.data.length === 0) return '(none)';
  return String(parsed.data);
}

/** A comma-separated list in flags and env; a list or a comma-separated string in the config file. */
function list(item: RegExp, what: string) {
  return z
    .union([z.array(z.string()), z.string()])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(z.string().regex(item, what)))
    .default([]);
}

export const SETTINGS = {
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
  connectTimeout: {
    flag: 'connect-timeout',
    env: 'HUBBUB_CONNECT_TIMEOUT',
    schema: z.coerce.number().int().min(1).max(600).default(10),
    doc: 'Seconds a new WebSocket may stay silent before its first command; then it is closed with 4005',
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
    doc: 'Seconds to finish in-flight requests on SIGINT/SIGTERM; then at most as long again to send queued webhook events',
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
  tokenSecret: {
    flag: 'token-secret',
    env: 'HUBBUB_TOKEN_SECRET',
    schema: z.string().min(32, 'must be at least 32 characters (256 bits for HS256)').optional(),
    doc: 'Shared secret that verifies connection and subscription tokens (HS256/384/512)',
  },
  tokenPublicKey: {
    flag: 'token-public-key',
    env: 'HUBBUB_TOKEN_PUBLIC_KEY',
    schema: z.string().min(1).optional(),
    doc: 'PEM public key (text or file path) that verifies tokens (RS*, PS*, ES*, EdDSA by key type)',
  },
  tokenJwksUrl: {
    flag: 'token-jwks-url',
    env: 'HUBBUB_TOKEN_JWKS_URL',
    schema: z.string().url().regex(/^https?:\/\//, 'an http(s) URL').optional(),
    doc: 'JWKS URL whose keys verify tokens (fetched, cached, refetched for an unknown kid)',
  },
  tokenIssuer: { flag: 'token-issuer', env: 'HUBBUB_TOKEN_ISSUER', schema: z.string().min(1).optional(), doc: 'Required `iss` claim of tokens' },
  tokenAudience: { flag: 'token-audience', env: 'HUBBUB_TOKEN_AUDIENCE', schema: z.string().min(1).optional(), doc: 'Required `aud` claim of tokens' },
  tokenLeeway: {
    flag: 'token-leeway',
    env: 'HUBBUB_TOKEN_LEEWAY',
    schema: z.coerce.number().int().min(0).max(600).default(5),
    doc: 'Seconds of clock skew tolerated on exp and nbf',
  },
  tokenCookie: {
    flag: 'token-cookie',
    env: 'HUBBUB_TOKEN_COOKIE',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a cookie name').optional(),
    doc: 'Name of a cookie holding the connection token (off when unset)',
  },
  allowedOrigins: {
    flag: 'allowed-origins',
    env: 'HUBBUB_ALLOWED_ORIGINS',
    schema: list(/^(\*|https?:\/\/[^/\s,]+)$/, '* or origins like https://app.example.com'),
    doc: 'Web origins allowed to use /ws, /sse, /poll and /publish from a browser (CORS); empty = same origin only',
  },
  trustedProxies: {
    flag: 'trusted-proxies',
    env: 'HUBBUB_TRUSTED_PROXIES',
    schema: list(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 'IP addresses or CIDR ranges'),
    doc: 'Proxies whose X-Forwarded-For / Forwarded header gives the client address (per-address limits)',
  },
  limitConnectionsPerIp: {
    flag: 'limit-connections-per-ip',
    env: 'HUBBUB_LIMIT_CONNECTIONS_PER_IP',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(2000),
    doc: 'Open WebSockets, SSE streams and waiting polls per client address (a busy office shares one)',
  },
  limitConnectionRate: {
    flag: 'limit-connection-rate',
    env: 'HUBBUB_LIMIT_CONNECTION_RATE',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(200),
    doc: 'New connections and realtime requests per second per client address (bursts of 5 s allowed)',
  },
  limitCommands: {
    flag: 'limit-commands',
    env: 'HUBBUB_LIMIT_COMMANDS',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(100),
    doc: 'WebSocket commands per second per connection (bursts of 2 s allowed), then rate_limited',
  },
  limitPublishes: {
    flag: 'limit-publishes',
    env: 'HUBBUB_LIMIT_PUBLISHES',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(10),
    doc: 'Client publishes per second per user on one node (bursts of 2 s allowed)',
  },
  limitAuthFailures: {
    flag: 'limit-auth-failures',
    env: 'HUBBUB_LIMIT_AUTH_FAILURES',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(30),
    doc: 'Failed API keys and tokens per minute per client address before its credentials are refused',
  },
  maxPollBytes: {
    flag: 'max-poll-bytes',
    env: 'HUBBUB_MAX_POLL_BYTES',
    schema: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    doc: 'Largest long-poll response; the rest waits for the next poll',
  },
  adminPassword: {
    flag: 'admin-password',
    env: 'HUBBUB_ADMIN_PASSWORD',
    schema: z.string().min(12, 'must be at least 12 characters').max(1024).optional(),
    doc: 'Password of the admin dashboard at /admin (off unless this or an API key scoped to `admin` is set; see docs/admin.md)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'HUBBUB_LOG_LEVEL',
    schema: z.enum(LOG_LEVELS).default('info'),
    doc: 'Least severe log lines written: trace, debug, info, warn, error or silent (debug adds a line per long-poll and SSE request)',
  },
  logFormat: {
    flag: 'log-format',
    env: 'HUBBUB_LOG_FORMAT',
    schema: z.enum(LOG_FORMATS).default('auto'),
    doc: 'Log lines as json (one object per line), pretty (readable), or auto: pretty on a terminal, else json',
  },
  metrics: {
    flag: 'metrics',
    env: 'HUBBUB_METRICS',
    schema: z
      .union([z.boolean(), z.enum(['true', 'false'])])
      .default(true)
      .transform((v) => v === true || v === 'true'),
    doc: 'Prometheus metrics at GET /metrics (an API key with the `metrics` operation) and on --metrics-port; false turns them off',
  },
  metricsPort: {
    flag: 'metrics-port',
    env: 'HUBBUB_METRICS_PORT',
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    doc: 'Also serve /metrics without a key on this port (for a scraper on a private network; 0 = any free port); unset = only on the main port',
  },
  tlsCert: {
    flag: 'tls-cert',
    env: 'HUBBUB_TLS_CERT',
    schema: z.string().min(1).optional(),
    doc: 'PEM certificate (chain) file: serve HTTPS and WSS without a proxy in front; needs --tls-key; reread on SIGHUP',
  },
  tlsKey: {
    flag: 'tls-key',
    env: 'HUBBUB_TLS_KEY',
    schema: z.string().min(1).optional(),
    doc: 'PEM private key file of --tls-cert',
  },
  ingestUnix: {
    flag: 'ingest-unix',
    env: 'HUBBUB_INGEST_UNIX',
    schema: z.string().min(1).max(100, 'a Unix socket path is at most about 100 bytes').optional(),
    doc: 'Path of a Unix socket taking newline-delimited JSON publishes, one reply line each (docs/ingest.md); off when unset',
  },
  ingestUnixMode: {
    flag: 'ingest-unix-mode',
    env: 'HUBBUB_INGEST_UNIX_MODE',
    schema: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'an octal file mode like 0660')
      .default('0660')
      .transform((s) => parseInt(s, 8)),
    doc: 'File mode of the --ingest-unix socket: who may connect is who may publish',
  },
  ingestUdp: {
    flag: 'ingest-udp',
    env: 'HUBBUB_INGEST_UDP',
    schema: z
      .string()
      .regex(/^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, 'HOST:PORT or PORT (binds 127.0.0.1)')
      .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'the port is at most 65535')
      .optional(),
    doc: 'HOST:PORT (or PORT, on 127.0.0.1) taking one JSON publish per UDP datagram, at most once, no reply (docs/ingest.md); off when unset',
  },
  ingestUdpSecret: {
    flag: 'ingest-udp-secret',
    env: 'HUBBUB_INGEST_UDP_SECRET',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    doc: 'Shared secret: every datagram must start with the hex HMAC-SHA256 of its JSON and a space; required to bind --ingest-udp beyond loopback',
  },
  ingestUdpMaxBytes: {
    flag: 'ingest-udp-max-bytes',
    env: 'HUBBUB_INGEST_UDP_MAX_BYTES',
    schema: z.coerce.number().int().min(64).max(65_507).default(8192),
    doc: 'Largest datagram taken by --ingest-udp; larger ones are dropped and counted',
  },
  ingestNats: {
    flag: 'ingest-nats',
    env: 'HUBBUB_INGEST_NATS',
    schema: z
      .union([z.boolean(), z.enum(['true', 'false'])])
      .default(true)
      .transform((v) => v === true || v === 'true'),
    doc: 'With --nats: take NATS requests on <prefix>.ingest.<channel> and reply with the position; false turns it off',
  },
  ingestNamespaces: {
    flag: 'ingest-namespaces',
    env: 'HUBBUB_INGEST_NAMESPACES',
    schema: list(/^[A-Za-z0-9_-]+$/, 'namespaces'),
    doc: 'Namespaces the ingest doors (Unix socket, UDP, NATS) may publish to, comma-separated; empty = every channel',
  },
  config: {
    flag: 'config',
    env: 'HUBBUB_CONFIG',
    schema: z.string().min(1).optional(),
    doc: 'Config file (YAML or JSON): namespaces, API keys and any setting above; flags and env override it',
  },
} as const;

export type Settings = typeof SETTINGS;
