import type { AdminConfig, JsonData } from '../../contract/index.js';
import type { Config } from '../config.js';
import { SETTINGS } from '../settings.js';

// The effective configuration as the dashboard shows it. Secrets never leave the server: a set
// secret shows as MASK, and credentials inside URLs (nats://user:pass@host) lose their user info.

export const MASK = '••••••••';

/** Settings whose whole value is a secret. */
const SECRET_SETTINGS = new Set<string>(['apiKey', 'tokenSecret', 'adminPassword', 'ingestUdpSecret']);

/** `scheme://user:pass@host` → `scheme://••••••••@host`, for each comma-separated URL. */
export function maskUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^@/\s,]+)@/gi, `$1${MASK}@`);
}

function shown(key: string, value: unknown): JsonData {
  if (value === undefined) return null;
  if (SECRET_SETTINGS.has(key)) return MASK;
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? maskUrlCredentials(v) : (v as JsonData)));
  return value as JsonData;
}

export function configView(config: Config): AdminConfig {
  const settings: Record<string, JsonData> = {};
  for (const key of Object.keys(SETTINGS)) settings[key] = shown(key, (config as Record<string, unknown>)[key]);
  settings['devMode'] = config.devTokenSecret !== undefined;
  return {
    settings,
    apiKeys: config.apiKeys.map((k) => ({ name: k.name, key: MASK, namespaces: [...k.namespaces], operations: [...k.operations] })),
    namespaces: config.namespaces as Record<string, JsonData>,
    defaults: config.defaults as JsonData,
  };
}
