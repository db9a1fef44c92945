import { accessNotes } from '../access-notes.js';
import { type HubbubApp, createHubbub } from '../app.js';
import { connectBackbone } from '../backbone.js';
import { infoRequest } from '../cli-help.js';
import { ingestListeners } from '../ingest/index.js';
import { type Logger, loggerFromConfig } from '../logger.js';
import { reloadOnHangup } from '../reload.js';
import { CommandError, type CommandResult, commandConfig } from './command.js';

// `hubbub serve` (the default command), `npm start` and `node dist/server/main.js`: the server,
// with every setting from flags, HUBBUB_* variables and --config.

export async function serve(argv: readonly string[]): Promise<CommandResult> {
  const info = infoRequest(argv);
  if (info !== undefined) {
    console.log(info);
    return 0;
  }
  const config = commandConfig(argv);
  const logger = loggerFromConfig(config);
  let backbone;
  try {
    backbone = await connectBackbone(config, logger);
  } catch (err) {
    throw new CommandError(err instanceof Error ? err.message : String(err), 1, { cause: err });
  }
  const app = createHubbub(config, { logger, ...backbone, listeners: ingestListeners(config) });
  // Handlers go in before listening: a signal during startup must still shut down cleanly.
  handleSignals(app, logger);
  reloadOnHangup(app, argv, process.env, logger);

  await app.listen();
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = config.tlsCert !== undefined ? 'https' : 'http';
  logger.info(`node ${app.nodeId} listening on ${scheme}://${shown}:${app.port} (broker: ${app.broker.kind})`);
  logger.info(`demo ${scheme}://${shown}:${app.port}/   API docs ${scheme}://${shown}:${app.port}/docs`);
  if (config.apiKeyGenerated) {
    // The one secret a log line shows, on purpose: nobody could use the server without it. The key
    // is not last, so that a JSON line's closing quote never reads as part of it.
    logger.info(`generated API key for this run: ${config.apiKey} (no HUBBUB_API_KEY set)`);
  }
  for (const line of accessNotes(config)) logger.info(line);
  return undefined;
}

/**
 * SIGINT and SIGTERM drain: clients get the reconnect code, in-flight requests finish, then exit 0.
 * SIGHUP reloads the configuration (reload.ts, set up by serve()). Ctrl-C signals the whole process group, so under `npm start` SIGINT can come
 * twice (from the terminal and forwarded by npm); `stopping` makes that one drain. `npm start`
 * execs node (package.json) so the SIGTERM npm forwards reaches this process, not a shell above it.
 */
export function handleSignals(app: HubbubApp, logger: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: closing clients with a reconnect code, finishing in-flight requests`);
    app.close().then(
      () => {
        // Written synchronously (logger.ts): this line is out before the process is.
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error('shutdown failed', err);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown(signal));
}
