import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { VERSION } from '../version.js';

// What the subcommands of `hubbub` share: one error type with its exit code (2 for a usage or
// configuration mistake, 1 for a failure at run time), flag parsing, and how a command ends.

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A command's result: an exit code, or undefined for a server that keeps running. */
export type CommandResult = number | undefined;

/** Runs a command and exits with its code; errors print as `hubbub: message` (the stack only when unexpected). */
export function runCommand(command: () => Promise<CommandResult>): void {
  command().then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (err: unknown) => {
      if (err instanceof CommandError) {
        console.error(`hubbub: ${err.message}`);
        process.exit(err.exitCode);
      }
      console.error('hubbub: failed:', err);
      process.exit(1);
    },
  );
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A subcommand's flags and positionals. `--help` prints `help` and `--version` the version
 * (returned as `info`, to print and exit 0); a flag it does not know is a usage error.
 */
export function parseCommand<O extends Options>(args: readonly string[], options: O, help: string) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CommandError(`${(err as Error).message}\n\n${help}`, 2, { cause: err });
  }
  const flags = parsed.values as Record<string, unknown>;
  const info = flags['help'] === true ? help : flags['version'] === true ? VERSION : undefined;
  return { values: parsed.values, positionals: parsed.positionals, info };
}

/** The configuration from these flags and the HUBBUB_* environment, as `serve` reads it; a bad one is a usage error (exit 2). */
export function commandConfig(argv: readonly string[]): Config {
  try {
    return loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message, 2, { cause: err });
    throw err;
  }
}
