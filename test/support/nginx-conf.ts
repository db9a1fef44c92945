import { z } from 'zod';

// Reads facts out of docs/deploy/nginx.conf and the settings table, so the tests compare the
// proxy's timeouts with the largest values Hubbub accepts instead of with copied numbers.

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

/** proxy_read_timeout of each `location = /path` block, in seconds (nginx's default 60 s when unset). */
export function readTimeouts(conf: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of conf.matchAll(/location\s*=\s*(\S+)\s*\{([^}]*)\}/g)) {
    const t = /^\s*proxy_read_timeout\s+(\d+)([smh]?);/m.exec(m[2]!);
    out[m[1]!] = t ? Number(t[1]) * UNITS[t[2]!]! : 60;
  }
  return out;
}

/** The largest value a numeric setting accepts (its zod `max`). */
export function maxSeconds(schema: z.ZodTypeAny): number {
  const inner = schema instanceof z.ZodDefault ? (schema.removeDefault() as z.ZodTypeAny) : schema;
  if (!(inner instanceof z.ZodNumber) || inner.maxValue === null) throw new Error('not a bounded number setting');
  return inner.maxValue;
}
