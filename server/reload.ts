import { createSecureContext } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { type Config, ConfigError, loadConfig } from './config.js';
import { tokenVerifier } from './core.js';
import { type TlsFiles, readTlsFiles } from './http/tls.js';
import type { Logger } from './logger.js';
import { sessionLimits, sessionRules } from './session/build.js';
import type { Sessions } from './session/sessions.js';
import { SETTINGS } from './settings.js';

// Reloading the configuration of a running node (SIGHUP). What only decides whether a request or a
// subscribe is allowed can change at once: API keys, token keys, origins, proxies, namespace rules,
// limits, the log level, the TLS certificate. What shapes state that already exists (port, broker,
// node id, history, timeouts) is reported as needing a restart and left as it is. Live connections
// are not re-checked: they keep the subscriptions they were granted (as Centrifugo does); their
// next subscribe or publish is decided by the new rules.

/** Config keys a reload applies; any other key that differs waits for a restart. */
const RELOADABLE: ReadonlySet<string> = new Set([
  'apiKey',
  'apiKeys',
  'tokenSecret',
  'tokenPublicKey',
  'tokenJwksUrl',
  'tokenIssuer',
  'tokenAudience',
  'tokenLeeway',
  'tokenCookie',
  'allowedOrigins',
  'trustedProxies',
  'defaults',
  'namespaces',
  'presenceEvents',
  'limitConnectionsPerIp',
  'limitConnectionRate',
  'limitCommands',
  'limitPublishes',
  'limitAuthFailures',
  'logLevel',
  'tlsCert',
  'tlsKey',
  // The admin session and tail-token keys are derived from it (and from admin-scoped apiKeys).
  'adminPassword',
]);

/** Follows from other keys (apiKey), never a change of its own. */
const DERIVED: ReadonlySet<string> = new Set(['apiKeyGenerated']);

export interface ReloadResult {
  /** Settings that changed and are in force now, as flags (`--api-key`) or config file keys (`namespaces`). */
  applied: string[];
  /** Settings that changed but only take effect on a restart; their old values stay in force. */
  needsRestart: string[];
}

/** The new configuration could not be put in force; nothing was changed. */
export class ReloadError extends Error {
  override readonly name = 'ReloadError';
}

/** What a reload acts on, besides the config it keeps. */
export interface ReloadTarget {
  sessions: Sessions;
  logger: Logger;
  door: { readonly secure: boolean; setTls(files: TlsFiles): void };
}

/** The config in force on a node, and the one way to change it while it runs. */
export class Reloader {
  private running: Config;

  constructor(
    config: Config,
    private readonly target: ReloadTarget,
  ) {
    this.running = config;
  }

  /** The config in force: the start config with every reload's applied settings. */
  get config(): Config {
    return this.running;
  }

  /** Applies what can change at runtime; throws ReloadError, having changed nothing, when the new config cannot be built. */
  apply(next: Config): ReloadResult {
    const { sessions, logger, door } = this.target;
    const changed = changedKeys(this.running, next);
    const restart = new Set(changed.filter((k) => !RELOADABLE.has(k)));
    // TLS on or off is a different server; a new certificate for the same server is not.
    const tlsNext = next.tlsCert !== undefined;
    if (door.secure !== tlsNext) for (const k of ['tlsCert', 'tlsKey']) if (changed.includes(k)) restart.add(k);

    // Build everything first: an unreadable key file, a certificate that does not match its key or
    // a bad proxy entry throws here, before anything is swapped.
    let built;
    try {
      // The dev token endpoint signs with the secret it was built with: dev mode keeps its verifier.
      const verifier = tokenVerifier({ ...next, devTokenSecret: this.running.devTokenSecret });
      const tls = door.secure && tlsNext ? readTlsFiles(next) : undefined;
      if (tls) createSecureContext(tls);
      built = { rules: sessionRules(next, verifier, { config: this.running, rules: sessions.options }), limits: sessionLimits(next), tls };
    } catch (err) {
      throw new ReloadError(`the new configuration was not applied: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // A certificate is reread even when its path is the same: a renewal rewrites the file.
    if (built.tls) door.setTls(built.tls);
    sessions.reload(built.rules);
    sessions.setLimits(built.limits);
    logger.setLevel(next.logLevel);

    const applied = changed.filter((k) => !restart.has(k));
    this.running = { ...this.running, ...Object.fromEntries(applied.map((k) => [k, next[k as keyof Config]])) };
    if (applied.includes('apiKey')) this.running.apiKeyGenerated = next.apiKeyGenerated;
    return { applied: applied.map(label), needsRestart: [...restart].map(label) };
  }
}

/** Keys whose values differ (settings, namespaces, scoped keys), in the order of the new config. */
function changedKeys(a: Config, b: Config): string[] {
  const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
  return [...keys].filter((k) => !DERIVED.has(k) && !isDeepStrictEqual(a[k as keyof Config], b[k as keyof Config]));
}

/** A setting as the operator wrote it: its flag, or its key in the config file. */
function label(key: string): string {
  if (key === 'devTokenSecret') return 'development mode';
  const s = (SETTINGS as Record<string, { flag: string } | undefined>)[key];
  return s ? `--${s.flag}` : key;
}

/** A node that can reload (HubbubApp). */
export interface Reloadable {
  readonly config: Config;
  reload(next: Config): ReloadResult;
}

/** One line for the log: what changed, and what waits for a restart. */
export function describeReload(result: ReloadResult): string {
  const applied = result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : 'no reloadable setting changed';
  const restart = result.needsRestart.length > 0 ? `; needs a restart (not applied): ${result.needsRestart.join(', ')}` : '';
  return `configuration reloaded: ${applied}${restart}`;
}

/**
 * SIGHUP rereads the configuration with the same flags and environment (so the config file, and
 * the key and certificate files it names) and applies it. A config that does not load changes
 * nothing: the node keeps serving with the one it has. Returns the listener's remover.
 */
export function reloadOnHangup(app: Reloadable, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, logger: Logger): () => void {
  const onHangup = () => {
    try {
      const result = app.reload(loadConfig({ argv, env, previous: app.config }));
      logger.info(describeReload(result));
      // As at start: a key nobody configured is useless until someone reads it here.
      if (result.applied.includes('--api-key') && app.config.apiKeyGenerated) {
        logger.info(`no HUBBUB_API_KEY set any more: generated API key for this run: ${app.config.apiKey}`);
      }
    } catch (err) {
      const known = err instanceof ConfigError || err instanceof ReloadError;
      logger.warn(`SIGHUP: configuration not reloaded, still serving with the previous one: ${known ? err.message : 'unexpected error'}`, known ? undefined : err);
    }
  };
  process.on('SIGHUP', onHangup);
  return () => void process.off('SIGHUP', onHangup);
}
