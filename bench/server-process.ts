import { type MainProcess, spawnMain } from '../test/support/main-process.js';

export interface ServerProcess extends MainProcess {
  apiKey: string;
}

/**
 * Thousands of clients from one loopback address: the per-address limits are lifted for the load,
 * as an operator would for a load test (the defaults guard a public server against one abuser).
 */
export const LOAD_TEST_LIMITS = {
  HUBBUB_LIMIT_CONNECTION_RATE: '1000000',
  HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1000000',
  HUBBUB_LIMIT_COMMANDS: '1000000',
};

/** Starts `server/main.ts` in its own process (its own core), on a free port. */
export async function startServerProcess(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const apiKey = 'bench-api-key-0123456789';
  const main = await spawnMain(['--port', '0', '--host', '127.0.0.1', ...extraArgs], {
    ...process.env,
    HUBBUB_API_KEY: apiKey,
    ...LOAD_TEST_LIMITS,
    ...env,
  });
  return { ...main, apiKey };
}
