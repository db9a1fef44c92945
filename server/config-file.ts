import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ApiKeyConfig } from './session/api-keys.js';
import { NamespaceOptions, NamespacesConfig } from './session/namespaces.js';
import { SETTINGS } from './settings.js';
import { WebhooksConfig } from './webhooks/options.js';

// The config file (`--config FILE`, YAML or JSON): every flag setting under its name in
// server/settings.ts, plus what only a file can hold — namespace options and scoped API keys.
// docs/config.schema.json is generated from FileConfig, so editors autocomplete the file.

/** Settings that make no sense inside the file itself. */
const NOT_IN_FILE = new Set(['config']);

const settingKeys = Object.fromEntries(
  Object.entries(SETTINGS)
    .filter(([key]) => !NOT_IN_FILE.has(key))
    .map(([key, s]) => [key, s.schema.optional().describe(`${s.doc} (flag --${s.flag}, env ${s.env})`)]),
) as Record<string, z.ZodTypeAny>;

export const FileConfig = z
  .object({
    $schema: z.string().optional().describe('Path or URL of docs/config.schema.json, for editors'),
    ...settingKeys,
    defaults: NamespaceOptions.partial().optional().describe('Options of every namespace not listed under namespaces'),
    namespaces: NamespacesConfig.optional(),
    apiKeys: z.array(ApiKeyConfig).optional().describe('Scoped API keys for backends, besides the full-access HUBBUB_API_KEY'),
    webhooks: WebhooksConfig.optional(),
  })
  .strict();
export type FileConfig = z.output<typeof FileConfig>;

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Reads and validates a config file; the error names the file and the path of the bad key. */
export function readConfigFile(path: string): { raw: Record<string, unknown>; parsed: FileConfig } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigFileError(`config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  raw ??= {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(`config file ${path} must hold an object of settings`);
  const result = FileConfig.safeParse(raw);
  if (!result.success) {
    const why = result.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${describeIssue(i)}`).join('; ');
    throw new ConfigFileError(`config file ${path}: ${why}`);
  }
  const orphan = namespacesWithEventsButNoUrl(result.data);
  if (orphan.length > 0) throw new ConfigFileError(`config file ${path}: ${orphan.join(', ')} ask${orphan.length > 1 ? '' : 's'} for webhook events but webhooks.url is not set`);
  return { raw: raw as Record<string, unknown>, parsed: result.data };
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message;
}

/** Channel events need the one endpoint they are sent to. */
function namespacesWithEventsButNoUrl(file: FileConfig): string[] {
  if (file.webhooks?.url !== undefined) return [];
  const out: string[] = [];
  if ((file.defaults?.webhooks?.length ?? 0) > 0) out.push('defaults.webhooks');
  for (const [name, ns] of Object.entries(file.namespaces ?? {})) if ((ns.webhooks?.length ?? 0) > 0) out.push(`namespaces.${name}.webhooks`);
  if ((file.webhooks?.events.length ?? 0) > 0) out.push('webhooks.events');
  return out;
}
