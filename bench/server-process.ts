import { type MainProcess, spawnMain } from '../test/support/main-process.js';

export interface ServerProcess extends MainProcess {
  apiKey: string;
}

/** Starts `server/main.ts` in its own process (its own core), on a free port. */
export async function startServerProcess(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const apiKey = 'bench-api-key-0123456789';
  const main = await spawnMain(['--port', '0', '--host', '127.0.0.1', ...extraArgs], { ...process.env, HUBBUB_API_KEY: apiKey, ...env });
  return { ...main, apiKey };
}
