import { JetStreamApiError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { errors as natsErrors } from '@nats-io/transport-node';
import { BrokerUnavailableError, UnrecoverablePositionError } from '../broker.js';
import { NatsDecodeError } from './codec.js';
import { InvalidSubjectError } from './subject.js';

/** JetStream API error codes that mean "try again later", not "your request is wrong". */
const RETRYABLE_API_CODES = new Set([
  10008, // JetStream system temporarily unavailable (no meta leader, no quorum)
]);

/** Connection-level trouble (down, draining, timeout, nobody answering): the caller may retry later. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof BrokerUnavailableError) return true;
  if (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError ||
    err instanceof natsErrors.ConnectionError ||
    err instanceof natsErrors.NoRespondersError ||
    err instanceof natsErrors.RequestError ||
    err instanceof jserrors.JetStreamNotEnabled
  ) {
    return true;
  }
  return err instanceof JetStreamApiError && (RETRYABLE_API_CODES.has(err.code) || err.status === 503);
}

/** Errors the Broker interface defines pass through; connection trouble becomes BrokerUnavailableError. */
export function toBrokerError(what: string, err: unknown): unknown {
  if (
    err instanceof BrokerUnavailableError ||
    err instanceof UnrecoverablePositionError ||
    err instanceof InvalidSubjectError ||
    err instanceof NatsDecodeError
  ) {
    return err;
  }
  if (isUnavailable(err)) {
    return new BrokerUnavailableError(`${what}: NATS unavailable (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  return err;
}

/** Rejects with BrokerUnavailableError after `ms`: nats.js flush() and friends have no timeout of their own. */
export function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BrokerUnavailableError(`${what}: no answer from NATS within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
