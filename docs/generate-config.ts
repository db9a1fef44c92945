import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIG_SETTINGS } from '../server/config.js';

/** README's configuration table, rendered from server/config.ts so it cannot drift. */
export const README = fileURLToPath(new URL('../README.md', import.meta.url));
const BEGIN = '<!-- config:begin -->';
const END = '<!-- config:end -->';

export function configTableMarkdown(): string {
  const rows = Object.values(CONFIG_SETTINGS).map((s) => {
    const parsed = s.schema.safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? `\`${String(parsed.data)}\`` : '—';
    return `| \`--${s.flag}\` | \`${s.env}\` | ${def} | ${s.doc} |`;
  });
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function rewriteConfigTable(markdown: string): string {
  const start = markdown.indexOf(BEGIN);
  const stop = markdown.indexOf(END);
  if (start < 0 || stop < start) throw new Error(`README.md has no ${BEGIN} … ${END} region`);
  return `${markdown.slice(0, start + BEGIN.length)}\n${configTableMarkdown()}\n${markdown.slice(stop)}`;
}

export async function writeConfigTable(path = README): Promise<boolean> {
  const before = await readFile(path, 'utf8');
  const after = rewriteConfigTable(before);
  if (after !== before) await writeFile(path, after);
  return after !== before;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`README.md: configuration table ${(await writeConfigTable()) ? 'rewritten' : 'up to date'}`);
}
