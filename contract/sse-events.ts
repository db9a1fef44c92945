// Zod-free, so the realtime client names SSE events without carrying zod; frames.ts re-exports it.

/**
 * SSE event names. `id:` of every subscribed/publication event is the cursor after that event;
 * `connected` and `ping` have no `id:`, so they never move the cursor (Last-Event-ID).
 */
export const SSE_EVENTS = {
  connected: 'connected',
  subscribed: 'subscribed',
  publication: 'publication',
  ping: 'ping',
  disconnect: 'disconnect',
} as const;
