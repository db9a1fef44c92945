import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildAsyncApi } from '../contract/asyncapi.js';
import { canonical, writeIfChanged } from './generate-openapi.js';

// `npm run asyncapi`: writes docs/asyncapi.json; test/asyncapi.test.ts fails when it is out of date.
export const ASYNCAPI_JSON = fileURLToPath(new URL('./asyncapi.json', import.meta.url));

/** Sorted as docs/openapi.json is, so the file only changes when the document does. */
export function renderAsyncApiJson(doc: object = buildAsyncApi()): string {
  return `${JSON.stringify(canonical(doc), null, 2)}\n`;
}

async function main(): Promise<void> {
  await writeIfChanged(ASYNCAPI_JSON, renderAsyncApiJson(), 'docs/asyncapi.json');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
