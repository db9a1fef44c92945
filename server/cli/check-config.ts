import { accessNotes } from '../access-notes.js';
import { TokenVerifier } from '../auth/tokens.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { CommandError, type CommandResult, parseCommand } from './command.js';

// `hubbub check-config FILE`: reads the file with the loader of `hubbub serve --config FILE`
// (the environment included, as the server would see it) and says what it configures, or exits 2
// with the errors, without starting anything. For CI and before a deploy or reload.

export const CHECK_CONFIG_HELP = `Usage: hubbub check-config FILE

Reads FILE (YAML or JSON) and the HUBBUB_* environment as \`hubbub serve --config FILE\` would,
prints a summary and exits 0, or prints what is wrong and exits 2.`;

function tokenKey(config: Config): string {
  if (config.tokenSecret !== undefined) return 'shared secret (HS256/384/512)';
  if (config.tokenPublicKey !== undefined) return 'public key';
  if (config.tokenJwksUrl !== undefined) return `JWKS ${config.tokenJwksUrl}`;
  return 'none (every connection is anonymous)';
}

export function summary(file: string, config: Config): string[] {
  const namespaces = Object.keys(config.namespaces);
  return [
    `${file}: OK`,
    `  listens on ${config.host}:${config.port}; broker: ${config.nats === undefined ? 'memory (one node)' : `NATS ${config.nats} (prefix ${config.natsPrefix})`}`,
    `  token key: ${tokenKey(config)}`,
    `  namespaces: ${namespaces.length === 0 ? '(none: defaults for every channel)' : namespaces.join(', ')}`,
    `  API keys: ${config.apiKeys.length} scoped; full-access key ${config.apiKeyGenerated ? 'not set (generated at start)' : 'set'}`,
    ...accessNotes(config).map((note) => `  note: ${note}`),
  ];
}

export async function checkConfig(args: readonly string[]): Promise<CommandResult> {
  const { positionals, info } = parseCommand(args, {}, CHECK_CONFIG_HELP);
  if (info !== undefined) {
    console.log(info);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new CommandError(`check-config takes one FILE\n\n${CHECK_CONFIG_HELP}`, 2);
  let config: Config;
  try {
    config = loadConfig({ argv: ['--config', file], env: process.env });
    // The key is read and parsed as the server would at start (a PEM file that is not a key fails here).
    TokenVerifier.create({ secret: config.tokenSecret, publicKey: config.tokenPublicKey, jwksUrl: config.tokenJwksUrl });
  } catch (err) {
    // ConfigError, or the key parser's error: both are about the configuration.
    if (err instanceof ConfigError || err instanceof Error) throw new CommandError(err.message, 2, { cause: err });
    throw err;
  }
  console.log(summary(file, config).join('\n'));
  return 0;
}
