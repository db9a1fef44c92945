import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger as Pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { REDACTION, prettyMessage, scrub } from './log-format.js';

// The one logger interface of the code base, on pino: JSON lines for machines, one readable line
// per event in a terminal. Fields are structured (`info('connection closed', { code })`), so a log
// pipeline can filter on them; secrets never reach a line (log-format.ts).

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  /** `err` is serialized with its type, message and stack (scrubbed); a plain object there is taken as the fields. */
  warn(message: string, err?: unknown, fields?: LogFields): void;
  error(message: string, err?: unknown, fields?: LogFields): void;
  /** A logger whose every line carries `bindings` (e.g. `{ component: 'admin' }`). */
  child(bindings: LogFields): Logger;
  /** Ask before building fields for a line that may be filtered out (hot paths). */
  isLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** Changes the level at runtime (config reload); children follow unless they set their own. */
  setLevel(level: LogLevel): void;
  readonly level: LogLevel;
}

/** The line's fields with `err`; a plain object in the error's place is the line's context (the NATS broker's calls). */
function withError(err: unknown, fields: LogFields | undefined): LogFields {
  if (err === undefined) return fields ?? {};
  if (fields === undefined && typeof err === 'object' && err !== null && !(err instanceof Error)) return err as LogFields;
  return { ...fields, err };
}

class PinoLogger implements Logger {
  constructor(private readonly p: Pino) {}

  debug(message: string, fields?: LogFields): void {
    if (this.p.isLevelEnabled('debug')) this.p.debug(fields ?? {}, scrub(message));
  }

  info(message: string, fields?: LogFields): void {
    if (this.p.isLevelEnabled('info')) this.p.info(fields ?? {}, scrub(message));
  }

  warn(message: string, err?: unknown, fields?: LogFields): void {
    if (this.p.isLevelEnabled('warn')) this.p.warn(withError(err, fields), scrub(message));
  }

  error(message: string, err?: unknown, fields?: LogFields): void {
    if (this.p.isLevelEnabled('error')) this.p.error(withError(err, fields), scrub(message));
  }

  child(bindings: LogFields): Logger {
    return new PinoLogger(this.p.child(bindings));
  }

  isLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return this.p.isLevelEnabled(level);
  }

  setLevel(level: LogLevel): void {
    this.p.level = level;
  }

  get level(): LogLevel {
    return this.p.level as LogLevel;
  }
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Bound to every line (the node's id). */
  base?: LogFields;
  /** Where lines go; default: stdout, written synchronously. */
  destination?: NodeJS.WritableStream;
  /** Whether the destination is a terminal (format `auto`); default: stdout's. */
  isTTY?: boolean;
}

/**
 * pretty: pino-pretty in this thread (not a worker transport), writing synchronously, as JSON does:
 * the lines logged just before process.exit() (the shutdown's) are written, not lost in a buffer.
 */
export function createLogger(options: LoggerOptions): Logger {
  const tty = options.isTTY ?? process.stdout.isTTY === true;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && tty);
  const stream: DestinationStream = pretty
    ? pinoPretty({
        destination: options.destination ?? 1,
        sync: true,
        colorize: tty,
        translateTime: 'SYS:HH:MM:ss.l',
        messageFormat: prettyMessage,
        hideObject: true,
        ignore: 'pid,hostname,node',
      })
    : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  const base = { pid: process.pid, hostname: hostname(), ...options.base };
  return new PinoLogger(pino({ level: options.level, base, ...REDACTION }, stream));
}

/** The node's logger from its settings (--log-level, --log-format); main() calls it once. */
export function loggerFromConfig(
  config: { logLevel: LogLevel; logFormat: LogFormat; nodeId: string },
  io: Pick<LoggerOptions, 'destination' | 'isTTY'> = {},
): Logger {
  return createLogger({ level: config.logLevel, format: config.logFormat, base: { node: config.nodeId }, ...io });
}

/** Made on first use, so that importing this module (settings.ts does) opens nothing on stdout. */
class LazyLogger implements Logger {
  private made: Logger | undefined;

  private get log(): Logger {
    return (this.made ??= createLogger({ level: 'info', format: 'auto' }));
  }

  debug(message: string, fields?: LogFields): void {
    this.log.debug(message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.log.info(message, fields);
  }

  warn(message: string, err?: unknown, fields?: LogFields): void {
    this.log.warn(message, err, fields);
  }

  error(message: string, err?: unknown, fields?: LogFields): void {
    this.log.error(message, err, fields);
  }

  child(bindings: LogFields): Logger {
    return this.log.child(bindings);
  }

  isLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return this.log.isLevelEnabled(level);
  }

  setLevel(level: LogLevel): void {
    this.log.setLevel(level);
  }

  get level(): LogLevel {
    return this.log.level;
  }
}

/** The fallback of code built without a logger (a Hub or broker in a script): info, on stdout. */
export const consoleLogger: Logger = new LazyLogger();

/** A record as a memoryLogger keeps it: the JSON line, parsed. */
export interface LogRecord {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** Records a memoryLogger keeps (between this and twice as many; the oldest go first): a long fuzz run must not grow it forever. */
const MEMORY_RECORDS = 10_000;

/**
 * For tests and embedding: prints nothing, keeps every line as a record, and every warning's
 * message in `warnings` (tests assert on them). The same pino pipeline as production, redaction included.
 */
export function memoryLogger(level: LogLevel = 'info'): Logger & { warnings: string[]; records(): LogRecord[]; text(): string } {
  const lines: string[] = [];
  const warnings: string[] = [];
  const destination = {
    write(line: string): boolean {
      // Trimmed in halves, not a shift per line (each would move the whole array).
      if (lines.push(line) > 2 * MEMORY_RECORDS) lines.splice(0, MEMORY_RECORDS);
      // A pino line starts with its level: only warnings and errors are parsed as they come.
      if (line.startsWith('{"level":4') || line.startsWith('{"level":5') || line.startsWith('{"level":6')) {
        warnings.push((JSON.parse(line) as LogRecord).msg);
      }
      return true;
    },
  } as NodeJS.WritableStream;
  const logger = createLogger({ level, format: 'json', destination });
  return Object.assign(logger, {
    warnings,
    records: () => lines.map((l) => JSON.parse(l) as LogRecord),
    text: () => lines.join(''),
  });
}
