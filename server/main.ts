import { createHubbub } from './app.js';
import { connectBackbone } from './backbone.js';
import { ConfigError, loadConfig } from './config.js';
import { accessNotes } from './access-notes.js';
import { infoRequest } from './cli-help.js';
import { consoleLogger } from './logger.js';

async function main(): Promise<void> {
  const info = infoRequest(process.argv.slice(2));
  if (info !== undefined) {
    console.log(info);
    return;
  }
  let config;
  try {
    config = loadConfig({ argv: process.argv.slice(2), env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`hubbub: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  let backbone;
  try {
    backbone = await connectBackbone(config, consoleLogger);
  } catch (err) {
    console.error(`hubbub: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const app = createHubbub(config, { logger: consoleLogger, ...backbone });

  // Handlers go in before listening: a signal during startup must still shut down cleanly.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    consoleLogger.info(`${signal}: closing clients with a reconnect code, finishing in-flight requests`);
    app.close().then(
      () => process.exit(0),
      (err) => {
        consoleLogger.warn('shutdown failed', err);
        process.exit(1);
      },
    );
  };
  // SIGHUP drains too (until config reload exists): its default would kill the process with every
  // connection open. Ctrl-C signals the whole process group, so under `npm start` SIGINT can come
  // twice (from the terminal and forwarded by npm); `stopping` makes that one drain. `npm start`
  // execs node (package.json) so the SIGTERM npm forwards reaches this process, not a shell above it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));

  await app.listen();
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  consoleLogger.info(`node ${app.nodeId} listening on http://${shown}:${app.port} (broker: ${app.broker.kind})`);
  consoleLogger.info(`demo http://${shown}:${app.port}/   API docs http://${shown}:${app.port}/docs`);
  if (config.apiKeyGenerated) {
    consoleLogger.info(`no HUBBUB_API_KEY set: generated API key for this run: ${config.apiKey}`);
  }
  for (const line of accessNotes(config)) consoleLogger.info(line);
}

main().catch((err) => {
  console.error('hubbub: failed to start:', err);
  process.exit(1);
});
