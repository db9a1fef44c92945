import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { API_OPERATIONS, type ApiOperation, channelNamespace } from '../../contract/index.js';
import { NamespaceName } from './namespaces.js';

// API keys for backends. `HUBBUB_API_KEY` is the full-access key; the config file may add scoped
// keys, each with a name, the namespaces it may touch and the operations it may call. Several
// keys may be valid at once, so a key can be rotated without downtime.

export const ApiKeyConfig = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only, at most 64'),
    key: z.string().min(16, 'must be at least 16 characters'),
    namespaces: z
      .array(z.union([z.literal('*'), NamespaceName]))
      .min(1)
      .default(['*'])
      .describe('Namespaces it may publish to or read; "*" for all'),
    operations: z
      .array(z.enum(['*', ...API_OPERATIONS]))
      .min(1)
      .default(['*'])
      .describe(`Operations it may call: ${API_OPERATIONS.join(', ')}; "*" for all but admin (the dashboard login, which is never implied)`),
  })
  .strict();
export type ApiKeyConfig = z.infer<typeof ApiKeyConfig>;

export interface ApiCaller {
  readonly name: string;
  /** undefined when allowed, else what is missing (for the 403 message). */
  missingOperation(operation: ApiOperation): string | undefined;
  missingChannel(channel: string): string | undefined;
}

interface KeyEntry {
  digest: Buffer;
  caller: ApiCaller;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function callerOf(config: { name: string; namespaces: readonly string[]; operations: readonly string[] }): ApiCaller {
  const allNamespaces = config.namespaces.includes('*');
  const allOperations = config.operations.includes('*');
  const namespaces = new Set(config.namespaces);
  const operations = new Set(config.operations);
  return {
    name: config.name,
    // The dashboard is opt-in: "*" (and so the master key) never grants `admin`.
    missingOperation: (op) => ((allOperations && op !== 'admin') || operations.has(op) ? undefined : `API key "${config.name}" may not call ${op}`),
    missingChannel(channel) {
      if (allNamespaces) return undefined;
      const ns = channelNamespace(channel);
      return namespaces.has(ns) ? undefined : `API key "${config.name}" may not touch namespace "${ns}" (channel ${channel})`;
    },
  };
}

export class ApiKeys {
  private readonly entries: KeyEntry[];

  constructor(master: string, scoped: readonly ApiKeyConfig[] = []) {
    const names = new Set<string>();
    this.entries = [{ digest: digest(master), caller: callerOf({ name: 'master', namespaces: ['*'], operations: ['*'] }) }];
    for (const k of scoped) {
      if (names.has(k.name) || k.name === 'master') throw new Error(`apiKeys: the name "${k.name}" is used twice`);
      names.add(k.name);
      this.entries.push({ digest: digest(k.key), caller: callerOf(k) });
    }
  }

  /** The caller for an `Authorization: Bearer <key>` header, or undefined. */
  authenticate(authorization: string | undefined): ApiCaller | undefined {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    // Digests have one length, so every comparison takes the same time; all keys are compared.
    const given = digest(authorization.slice(7));
    let found: ApiCaller | undefined;
    for (const e of this.entries) if (timingSafeEqual(given, e.digest) && !found) found = e.caller;
    return found;
  }

  /** The caller of a key scoped to `admin` (it may sign in to the dashboard), or undefined. */
  adminCaller(key: string): ApiCaller | undefined {
    const caller = this.authenticate(`Bearer ${key}`);
    return caller && caller.missingOperation('admin') === undefined ? caller : undefined;
  }

  /** Whether any key is scoped to `admin` (then the dashboard is on). */
  get hasAdminKeys(): boolean {
    return this.entries.some((e) => e.caller.missingOperation('admin') === undefined);
  }

  /** True when `text` is one of the keys (a key must never be accepted as a connection token). */
  isKey(text: string): boolean {
    return this.authenticate(`Bearer ${text}`) !== undefined;
  }
}
