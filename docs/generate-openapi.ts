import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildOpenApi } from '../contract/openapi.js';
import { writeProtocolTables } from './generate-tables.js';

/** `npm run openapi`: writes docs/openapi.json and the generated tables of docs/protocol.md. */
export const OPENAPI_JSON = fileURLToPath(new URL('./openapi.json', import.meta.url));

/**
 * Keys sorted so the file only changes when the document does, except inside `properties`:
 * there the order is the contract's field order, which is what readers (and Swagger UI) show.
 */
export function canonical(value: unknown, keepOrder = false): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (!keepOrder) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v, k === 'properties')]));
}

/** Writes `text` to `file` unless it already holds it; says which on the console, named by `label`. */
export async function writeIfChanged(file: string, text: string, label: string): Promise<void> {
  const before = await readFile(file, 'utf8').catch(() => '');
  if (text !== before) await writeFile(file, text);
  console.log(`${label}: ${text === before ? 'up to date' : 'written'}`);
}

export function renderOpenApiJson(doc: object = buildOpenApi()): string {
  return `${JSON.stringify(canonical(doc), null, 2)}\n`;
}

async function main(): Promise<void> {
  await writeIfChanged(OPENAPI_JSON, renderOpenApiJson(), 'docs/openapi.json');
  const changed = await writeProtocolTables();
  console.log(`docs/protocol.md: tables ${changed ? 'rewritten' : 'up to date'}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
