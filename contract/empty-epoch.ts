// The epoch of an empty position: a channel with nothing stored and no kept position. It says
// WHEN the channel was seen empty, `0` and that time in base36 ms padded to 10 characters, so any
// node can tell whether the generation it now holds is the one the holder missed (broker.ts
// recoverableFromEmpty). Random epochs are 12 base64url characters (8 for memory brokers before 0.2), so none is
// ever read as empty. Zod-free: the client imports it.

const TIME_DIGITS = 9;
const TIMED = /^0[0-9a-z]{9}$/;
/** What empty positions were before they carried a time: read as seen empty at time 0. */
const UNTIMED = '0';

/** The empty epoch of a channel seen empty at `observedAt` (ms since the Unix epoch). */
export function emptyEpoch(observedAt: number): string {
  return `0${Math.max(0, Math.trunc(observedAt)).toString(36).padStart(TIME_DIGITS, '0')}`;
}

export function isEmptyEpoch(epoch: string): boolean {
  return epoch === UNTIMED || TIMED.test(epoch);
}

/** When an empty epoch's channel was seen empty (ms; 0 for the untimed `0`); undefined for a real epoch. */
export function emptyEpochTime(epoch: string): number | undefined {
  if (epoch === UNTIMED) return 0;
  return TIMED.test(epoch) ? parseInt(epoch.slice(1), 36) : undefined;
}
