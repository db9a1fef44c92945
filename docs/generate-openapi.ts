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

export function renderOpenApiJson(doc: object = buildOpenApi()): string {
  return `${JSON.stringify(canonical(doc), null, 2)}\n`;
}

async function main(): Promise<void> {
  const text = renderOpenApiJson();
  const before = await readFile(OPENAPI_JSON, 'utf8').catch(() => '');
  if (text !== before) await writeFile(OPENAPI_JSON, text);
  console.log(`docs/openapi.json: ${text === before ? 'up to date' : 'written'}`);
  const changed = await writeProtocolTables();
  console.log(`docs/protocol.md: tables ${changed ? 'rewritten' : 'up to date'}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
