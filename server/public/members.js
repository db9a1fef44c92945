// Who is in the chat room. The presence API would say, but it takes the API key, so the page
// keeps the list from what arrives in the channel itself:
// - join and leave events, which the server publishes for every connection of a signed-in user
//   (WebSocket and SSE; a long-poll request is no lasting subscription and announces nothing),
//   named from the user's token info;
// - `{type: 'here', client}` messages that members publish when someone else joins, so a newcomer
//   learns who was there before it. The user and name come from the server's publisher stamp;
//   only the connection id is the sender's word, and it cannot take over another user's entry.

/** The display name in a token's info, else the user id. Never read from message data. */
export function nameOf(info, user) {
  const name = info && typeof info === 'object' && typeof info.name === 'string' ? info.name.trim().slice(0, 40) : '';
  return name || user || 'someone';
}

export class Members {
  /** connection id → { user, name } */
  #clients = new Map();
  #onChange;

  constructor(onChange) {
    this.#onChange = onChange;
  }

  /** false when the connection id is known under another user (a forged `here`). */
  add(client, user, name) {
    const known = this.#clients.get(client);
    if (known && known.user !== user) return false;
    this.#clients.set(client, { user, name });
    this.#onChange();
    return true;
  }

  /** The member who went, when this was their last connection; undefined otherwise. */
  remove(client) {
    const gone = this.#clients.get(client);
    if (!gone) return undefined;
    this.#clients.delete(client);
    this.#onChange();
    return this.has(gone.user) ? undefined : gone;
  }

  has(user) {
    for (const m of this.#clients.values()) if (m.user === user) return true;
    return false;
  }

  clear() {
    this.#clients.clear();
    this.#onChange();
  }

  /** One entry per user (a user may have several tabs open), by name. */
  list() {
    const byUser = new Map();
    for (const m of this.#clients.values()) byUser.set(m.user, m.name);
    return [...byUser].map(([user, name]) => ({ user, name })).sort((a, b) => a.name.localeCompare(b.name) || a.user.localeCompare(b.user));
  }
}
