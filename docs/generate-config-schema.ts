import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { FileConfig } from '../server/config-file.js';

// docs/config.schema.json: the JSON Schema of the config file, generated from its zod schema
// (server/config-file.ts), so editors can autocomplete and check hubbub.yaml. A test fails on drift.

export const SCHEMA_PATH = fileURLToPath(new URL('./config.schema.json', import.meta.url));

export function configJsonSchema(): string {
  const schema = zodToJsonSchema(FileConfig, { target: 'jsonSchema7', $refStrategy: 'none', effectStrategy: 'input' });
  const doc = { ...schema, title: 'Hubbub config file', $id: 'https://hubbub.dev/config.schema.json' };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const before = await readFile(SCHEMA_PATH, 'utf8').catch(() => '');
  const after = configJsonSchema();
  if (after !== before) await writeFile(SCHEMA_PATH, after);
  console.log(`docs/config.schema.json: ${after !== before ? 'rewritten' : 'up to date'}`);
}
