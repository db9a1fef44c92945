import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIG_SETTINGS } from '../server/config.js';
import { type Setting, defaultText } from '../server/settings.js';

// Tables rendered from server/settings.ts so they cannot drift: every setting in the README, and
// the limits in docs/security.md. Run `npx tsx docs/generate-config.ts` after changing a setting.

export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const SECURITY_MD = fileURLToPath(new URL('./security.md', import.meta.url));

/** The settings that bound what one client may cost the server. */
const LIMITS = [
  'limitConnectionsPerIp',
  'limitConnectionRate',
  'limitCommands',
  'limitPublishes',
  'limitAuthFailures',
  'maxMessageBytes',
  'maxChannels',
  'maxQueueBytes',
  'maxPollBytes',
  'connectTimeout',
  'pingInterval',
] as const satisfies ReadonlyArray<keyof typeof CONFIG_SETTINGS>;

function defaultOf(s: Setting): string {
  const text = defaultText(s);
  if (text === undefined) return '—';
  return text === '(none)' ? text : `\`${text}\``;
}

function table(settings: readonly Setting[]): string {
  const rows = settings.map((s) => `| \`--${s.flag}\` | \`${s.env}\` | ${defaultOf(s)} | ${s.doc} |`);
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function configTableMarkdown(): string {
  return table(Object.values(CONFIG_SETTINGS));
}

export function limitsTableMarkdown(): string {
  return table(LIMITS.map((key) => CONFIG_SETTINGS[key]));
}

function rewriteRegion(markdown: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = markdown.indexOf(begin);
  const stop = markdown.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`no ${begin} … ${end} region`);
  return `${markdown.slice(0, start + begin.length)}\n${body}\n${markdown.slice(stop)}`;
}

export const rewriteConfigTable = (markdown: string) => rewriteRegion(markdown, 'config', configTableMarkdown());
export const rewriteLimitsTable = (markdown: string) => rewriteRegion(markdown, 'limits', limitsTableMarkdown());

async function rewrite(path: string, render: (markdown: string) => string): Promise<boolean> {
  const before = await readFile(path, 'utf8');
  const after = render(before);
  if (after !== before) await writeFile(path, after);
  return after !== before;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`README.md: configuration table ${(await rewrite(README, rewriteConfigTable)) ? 'rewritten' : 'up to date'}`);
  console.log(`docs/security.md: limits table ${(await rewrite(SECURITY_MD, rewriteLimitsTable)) ? 'rewritten' : 'up to date'}`);
}
