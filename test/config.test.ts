import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

describe('configuration', () => {
  it('has sensible defaults and generates an API key when none is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, historySize: 100, historyTtl: 300, maxMessageBytes: 65_536, pollTimeout: 25 });
    expect(c.apiKeyGenerated).toBe(true);
    expect(c.apiKey.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).apiKey).not.toBe(c.apiKey);
  });

  it('reads HUBBUB_* variables and lets flags win', () => {
    const c = loadConfig({
      argv: ['--port', '9000', '--history-size=7'],
      env: { HUBBUB_PORT: '1234', HUBBUB_API_KEY: 'k'.repeat(20), HUBBUB_POLL_TIMEOUT: '5' },
    });
    expect(c.port).toBe(9000);
    expect(c.historySize).toBe(7);
    expect(c.pollTimeout).toBe(5);
    expect(c.apiKey).toBe('k'.repeat(20));
    expect(c.apiKeyGenerated).toBe(false);
  });

  it.each([
    [{ env: { HUBBUB_PORT: 'eighty' } }, /HUBBUB_PORT="eighty"/],
    [{ argv: ['--port', '70000'] }, /--port="70000"/],
    [{ env: { HUBBUB_API_KEY: 'short' } }, /HUBBUB_API_KEY.*at least 16/],
    [{ argv: ['--nope', '1'] }, /unknown flag --nope/],
    [{ argv: ['--port'] }, /--port needs a value/],
    [{ argv: ['9000'] }, /unexpected argument/],
    [{ env: { HUBBUB_HISTORY_TTL: '0' } }, /HUBBUB_HISTORY_TTL/],
  ])('refuses a bad value and names the setting (%j)', (source, message) => {
    expect(() => loadConfig(source)).toThrow(ConfigError);
    expect(() => loadConfig(source)).toThrow(message);
  });
});
