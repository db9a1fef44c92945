import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { disconnectTableMarkdown, errorTableMarkdown } from '../contract/openapi.js';

// docs/protocol.md embeds the error and disconnect tables between marker comments; this rewrites
// those regions from contract/errors.ts and contract/disconnect.ts so the doc cannot drift.

export const PROTOCOL_MD = fileURLToPath(new URL('./protocol.md', import.meta.url));

export const GENERATED_REGIONS = {
  errors: errorTableMarkdown,
  disconnect: disconnectTableMarkdown,
} as const satisfies Record<string, () => string>;

export type RegionName = keyof typeof GENERATED_REGIONS;

function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- ${name}:begin -->`, end: `<!-- ${name}:end -->` };
}

/** The text between a region's markers, without the blank lines that pad it. */
export function readRegion(markdown: string, name: RegionName): string {
  const { begin, end } = markers(name);
  const start = markdown.indexOf(begin);
  const stop = markdown.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`docs/protocol.md has no ${begin} … ${end} region`);
  return markdown.slice(start + begin.length, stop).trim();
}

export function rewriteRegions(markdown: string): string {
  let out = markdown;
  for (const [name, render] of Object.entries(GENERATED_REGIONS)) {
    const { begin, end } = markers(name);
    readRegion(out, name as RegionName); // throws when a marker is missing
    const start = out.indexOf(begin) + begin.length;
    out = `${out.slice(0, start)}\n${render()}\n${out.slice(out.indexOf(end))}`;
  }
  return out;
}

/** Returns true when the file changed. */
export async function writeProtocolTables(path = PROTOCOL_MD): Promise<boolean> {
  const before = await readFile(path, 'utf8');
  const after = rewriteRegions(before);
  if (after === before) return false;
  await writeFile(path, after);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const changed = await writeProtocolTables();
  console.log(changed ? 'docs/protocol.md: tables rewritten' : 'docs/protocol.md: tables up to date');
}
