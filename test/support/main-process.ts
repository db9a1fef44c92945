import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../server/main.ts', import.meta.url));
const LISTENING = /listening on http:\/\/[^:\s]+:(\d+)/;

/** `server/main.ts` (the source of what `npm start` builds and runs) in its own process, once it listens. */
export interface MainProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far, stdout and stderr. */
  output(): string;
  /** SIGKILL: no drain, no goodbye, connections just die. */
  kill9(): Promise<void>;
  /** SIGTERM: graceful drain; resolves when the process is gone. */
  stop(): Promise<void>;
}

/**
 * Waits until a server process prints its listening line (stdout or stderr) and resolves with the
 * port; `output()` keeps collecting everything it prints. Rejects if it exits first.
 */
export async function untilListening(child: ChildProcess, what: string): Promise<{ port: string; output: () => string }> {
  let out = '';
  const port = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = LISTENING.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
  return { port, output: () => out };
}

/** Starts the server with these flags and exactly this environment; resolves with its URL. */
export async function spawnMain(args: string[], env: NodeJS.ProcessEnv): Promise<MainProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { port, output } = await untilListening(child, 'server/main.ts');
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}
