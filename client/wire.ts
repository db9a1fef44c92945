import { formatCursor } from '../contract/position-text.js';
import type { PollResponse } from '../contract/frames.js';
import type { Publication, SubscribeResult } from '../contract/publication.js';
import type { ChannelWanted } from './types.js';

/*
 * Cheap structural checks of what the server sends. The server validates against the contract; the
 * client only guards the fields it relies on, so a malformed frame is reported instead of corrupting
 * positions, without running zod on every frame.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function isSubscribeResult(v: unknown): v is SubscribeResult {
  return isObj(v) && typeof v.channel === 'string' && typeof v.epoch === 'string' && isOffset(v.offset) && typeof v.recovered === 'boolean';
}

export function isPublication(v: unknown): v is Publication {
  return isObj(v) && typeof v.channel === 'string' && typeof v.epoch === 'string' && isOffset(v.offset) && 'data' in v && (v.event === undefined || typeof v.event === 'string');
}

export function isPollResponse(v: unknown): v is PollResponse {
  return (
    isObj(v) &&
    typeof v.cursor === 'string' &&
    Array.isArray(v.subscriptions) &&
    v.subscriptions.every(isSubscribeResult) &&
    Array.isArray(v.publications) &&
    v.publications.every(isPublication)
  );
}

/** Parses JSON text, undefined when it is not JSON. */
export function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Strips the trailing slash, so paths can be appended; resolves a relative URL against the page. */
export function normalizeBaseUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const u = new URL(url, base);
  u.search = '';
  u.hash = '';
  return u.href.replace(/\/+$/, '');
}

/** http → ws, https → wss, same host and path prefix. */
export function webSocketUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/^http/, 'ws') + path;
}

export function realtimeUrl(baseUrl: string, path: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `${baseUrl}${path}?${q.toString()}`;
}

/** The cursor of a channel list (contract/position.ts); omitted when no channel has a position yet. */
export function cursorOf(wanted: readonly ChannelWanted[]): string | undefined {
  return wanted.some((w) => w.since) ? formatCursor(wanted.map((w) => w.since)) : undefined;
}

/** The `tokens` parameter: one entry per channel, aligned with `channels`; omitted when no channel has a token. */
export function tokensOf(wanted: readonly ChannelWanted[]): string | undefined {
  return wanted.some((w) => w.token !== undefined) ? wanted.map((w) => w.token ?? '').join(',') : undefined;
}

/** Retry-After (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
