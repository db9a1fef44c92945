import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS } from '../server/config.js';

// `--help` and `--version` of the server command print and exit 0 instead of starting (they used
// to be refused as unknown flags); the help lists every flag with its environment variable.

const run = promisify(execFile);
const MAIN = new URL('../server/main.ts', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const main = (...args: string[]) => run(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 20_000 });

describe('the server command', () => {
  it('--version prints the package version and exits 0', async () => {
    for (const flag of ['--version', '-v']) expect((await main(flag)).stdout.trim()).toBe(VERSION);
  });

  it('--help lists every flag with its environment variable and exits 0, even after other flags', async () => {
    const { stdout } = await main('--port', '9999', '--help');
    expect(stdout).toContain('Usage: hubbub serve');
    expect(stdout).toContain('npm start -- [--flag value ...]');
    for (const s of Object.values(CONFIG_SETTINGS)) {
      expect(stdout).toContain(`--${s.flag} <value>`);
      expect(stdout).toContain(s.env);
    }
  });

  it('still refuses an unknown flag with exit code 2', async () => {
    const failed = await main('--colour', 'blue').catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('unknown flag --colour');
  });
});
