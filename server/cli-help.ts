import { CONFIG_SETTINGS } from './config.js';
import { defaultText } from './settings.js';
import { VERSION } from './version.js';

// `--help` and `--version` of the server command, rendered from the settings table like the
// README's, so they cannot drift from the flags the server takes.

export function helpText(): string {
  const lines = [
    `hubbub ${VERSION}: a real-time messaging server`,
    '',
    'Usage: hubbub serve [--flag value ...]',
    '       npm start -- [--flag value ...]      (in a checkout)',
    '',
    'Every flag also reads from its environment variable and from the config file (--config);',
    'flags win over the environment, which wins over the file.',
    '',
  ];
  for (const s of Object.values(CONFIG_SETTINGS)) {
    const d = defaultText(s);
    lines.push(`  --${s.flag} <value>`, `      ${s.doc}${d === undefined ? '' : ` (default ${d})`}; ${s.env}`);
  }
  lines.push('  --help', '      This text', '  --version', '      The version');
  return lines.join('\n');
}

/** `--help`, `--version` (or -h, -v) anywhere among the arguments: what to print instead of starting. */
export function infoRequest(argv: readonly string[]): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h')) return helpText();
  if (argv.some((a) => a === '--version' || a === '-v')) return VERSION;
  return undefined;
}
