import { createHmac, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { ConfigFileError, type FileConfig, readConfigFile } from './config-file.js';
import { isLoopback, udpAddress } from './ingest/address.js';
import type { ApiKeyConfig } from './session/api-keys.js';
import type { NamespaceOptions } from './session/namespaces.js';
import { SETTINGS, type Settings } from './settings.js';
import type { WebhooksConfig } from './webhooks/options.js';

// Loads the settings from flags, HUBBUB_* variables and the config file, in that order of
// precedence. A bad value stops the server with a message naming the setting and where it came from.

export type Config = { -readonly [K in Exclude<keyof Settings, 'apiKey' | 'nodeId'>]: z.output<Settings[K]['schema']> } & {
  apiKey: string;
  nodeId: string;
  /** true when the API key was generated at start (print it once). */
  apiKeyGenerated: boolean;
  /** Namespace options from the config file (`defaults`, `namespaces`); in dev mode, devNamespaces(). */
  defaults: Partial<NamespaceOptions>;
  namespaces: Record<string, Partial<NamespaceOptions>>;
  /** Scoped API keys from the config file. */
  apiKeys: ApiKeyConfig[];
  /** The webhook endpoint and connection events from the config file (docs/webhooks.md); undefined: none. */
  webhooks: WebhooksConfig | undefined;
  /**
   * No token key and no config file: a development setup. The dev token endpoint is on and signs
   * with `devTokenSecret`, derived from the API key (see devSecret), so the demo never needs the
   * API key in a page.
   */
  devTokenSecret: string | undefined;
};

/**
 * Dev mode has no config file to open a namespace, and the defaults take publications from
 * backends only. The demo's chat (`chat:lobby`) needs client publishes and join/leave events with
 * names, so dev mode opens the `chat` namespace to signed-in users; every other namespace keeps
 * the defaults. A config file replaces this entirely.
 */
export function devNamespaces(): Record<string, Partial<NamespaceOptions>> {
  return { chat: { publish: 'authenticated', joinLeave: true } };
}

/**
 * The dev token secret, derived from the API key rather than random: nodes sharing one API key
 * (a dev cluster behind a balancer) then accept each other's dev tokens. One-way, so a token
 * secret never reveals the key; a generated key makes it random per run.
 */
function devSecret(apiKey: string): string {
  return createHmac('sha256', apiKey).update('hubbub dev token secret').digest('base64url');
}

export const CONFIG_SETTINGS = SETTINGS;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ConfigSource {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** The running config, on a reload: an API key or node id generated at start is kept, not generated anew. */
  previous?: Pick<Config, 'apiKey' | 'apiKeyGenerated' | 'nodeId'>;
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
    const value: string | undefined = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

function loadFile(path: string | undefined): { raw: Record<string, unknown>; parsed: FileConfig | undefined } {
  if (path === undefined) return { raw: {}, parsed: undefined };
  try {
    return readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

export function loadConfig(source: ConfigSource = {}): Config {
  const env = source.env ?? {};
  const flags = parseFlags(source.argv ?? []);
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name]);
  const file = loadFile(flags.get(SETTINGS.config.flag) ?? fromEnv(SETTINGS.config.env));
  const result: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromFlag = flags.get(s.flag);
    const envValue = fromEnv(s.env);
    const raw = fromFlag ?? envValue ?? file.raw[key];
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      // File values were validated with the file (readConfigFile names their path), so this is a flag or env.
      const where = fromFlag !== undefined ? `--${s.flag}` : s.env;
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      throw new ConfigError(`invalid setting ${where}=${JSON.stringify(raw)}: ${why}`);
    }
    result[key] = parsed.data;
  }
  const apiKey = result['apiKey'] as string | undefined;
  const keySources = ['tokenSecret', 'tokenPublicKey', 'tokenJwksUrl'].filter((k) => result[k] !== undefined);
  if (keySources.length > 1) {
    throw new ConfigError(`configure one token key, not several: ${keySources.map((k) => `--${SETTINGS[k as keyof Settings].flag}`).join(', ')}`);
  }
  if (apiKey !== undefined && result['tokenSecret'] === apiKey) {
    throw new ConfigError('the token secret must differ from the API key: anyone holding a token key could mint API access');
  }
  if ((result['tlsCert'] === undefined) !== (result['tlsKey'] === undefined)) {
    throw new ConfigError('TLS needs both --tls-cert and --tls-key (paths to PEM files), or neither');
  }
  const udp = result['ingestUdp'] as string | undefined;
  if (udp !== undefined && !isLoopback(udpAddress(udp).host) && result['ingestUdpSecret'] === undefined) {
    // Anyone who can reach the port could publish anything: beyond loopback, datagrams must be signed.
    throw new ConfigError(`--ingest-udp ${udp} is reachable beyond loopback: set --ingest-udp-secret (datagrams signed with HMAC-SHA256, docs/ingest.md)`);
  }
  const devMode = keySources.length === 0 && file.parsed === undefined;
  const kept = source.previous?.apiKeyGenerated ? source.previous.apiKey : undefined;
  const key = apiKey ?? kept ?? randomBytes(24).toString('base64url');
  return {
    ...(result as Omit<Config, 'apiKey' | 'apiKeyGenerated' | 'nodeId' | 'defaults' | 'namespaces' | 'apiKeys' | 'devTokenSecret' | 'webhooks'>),
    apiKey: key,
    apiKeyGenerated: apiKey === undefined,
    nodeId: (result['nodeId'] as string | undefined) ?? source.previous?.nodeId ?? `node-${randomBytes(4).toString('hex')}`,
    defaults: file.parsed?.defaults ?? {},
    namespaces: file.parsed?.namespaces ?? (devMode ? devNamespaces() : {}),
    apiKeys: file.parsed?.apiKeys ?? [],
    webhooks: file.parsed?.webhooks,
    devTokenSecret: devMode ? devSecret(key) : undefined,
  };
}
