import type { JsonData, Publication } from '../../contract/publication.js';
import { Hubbub } from '../hubbub.js';
import { admin } from './api.js';
import { card, h, json, table } from './dom.js';
import { type Page, disconnect, errorBox, header } from './pages.js';

// A channel: the publish box, a live tail of its publications (a subscription of the project's
// own client, so it sees what any subscriber sees), and its presence and newest history,
// refreshed every 3 seconds. The tail itself is not listed in presence.

/** Publications the tail keeps on screen. */
const TAIL_SIZE = 200;

/**
 * The tail's own connection, one per channel page: it signs in with a tail token for this channel
 * (POST /admin/api/tail-token, refreshed by getToken before it expires), so it may watch channels
 * an anonymous client may not, on whichever node the balancer picks (docs/admin.md).
 */
function tailClient(channel: string): Hubbub {
  return new Hubbub(location.origin, { getToken: async () => (await admin.tailToken(channel)).token });
}

export const channelPage: Page = (main, channel) => {
  const tail = h('ol', { class: 'tail', 'data-testid': 'tail', 'aria-live': 'polite' }, h('li', { class: 'empty' }, 'Waiting for publications…'));
  const tailState = h('span', { class: 'badge', 'data-testid': 'tail-state' }, 'subscribing');
  const presence = h('div', {}, 'Loading…');
  const history = h('div', {}, 'Loading…');

  const client = tailClient(channel);
  client.on('error', (err) => setBadge(tailState, err.message, 'bad'));
  client.subscribe(channel, {
    onPublication: (pub) => addToTail(tail, pub),
    onSubscribed: () => setBadge(tailState, 'live', 'ok'),
    onError: (err) => setBadge(tailState, err.message, 'bad'),
    onState: (e) => {
      if (e.state === 'subscribing') setBadge(tailState, 'subscribing', 'warn');
      else if (e.state === 'unsubscribed') setBadge(tailState, e.error ? e.error.message : 'unsubscribed', 'bad');
    },
  });

  main.replaceChildren(
    header(channel, 'Publish to the channel and watch what its subscribers receive.'),
    h(
      'div',
      { class: 'grid' },
      card('Publish JSON', publishForm(channel, () => void refresh())),
      h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Live tail'), tailState), tail),
    ),
    card('Presence', presence),
    card('History (newest first)', history),
  );

  let stopped = false;
  const refresh = async () => {
    try {
      const page = await admin.channel(channel);
      if (stopped) return;
      presence.replaceChildren(presenceTable(page.presence, refresh));
      history.replaceChildren(historyList(page.history.publications));
    } catch (err) {
      if (!stopped) presence.replaceChildren(errorBox(err));
    }
  };
  void refresh();
  const timer = setInterval(refresh, 3000);
  return () => {
    stopped = true;
    clearInterval(timer);
    client.close();
  };
};

function setBadge(badge: HTMLElement, text: string, tone: 'ok' | 'warn' | 'bad'): void {
  badge.textContent = text;
  badge.dataset['tone'] = tone;
}

function addToTail(tail: HTMLElement, pub: Publication): void {
  tail.querySelector('.empty')?.remove();
  tail.prepend(publicationItem(pub, 'tail-item'));
  while (tail.children.length > TAIL_SIZE) tail.lastElementChild?.remove();
}

function publicationItem(pub: Publication, testid: string): HTMLElement {
  const who = pub.publisher ? `by ${pub.publisher.user || pub.publisher.client}` : 'by a backend';
  const tags = pub.tags ? Object.entries(pub.tags).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  return h(
    'li',
    { 'data-testid': testid },
    h('div', { class: 'meta' }, h('span', { class: 'offset' }, `#${pub.offset}`), h('span', {}, new Date(pub.time).toLocaleTimeString()), h('span', {}, who), tags ? h('code', {}, tags) : null),
    h('pre', { class: 'json' }, json(pub.data)),
  );
}

function historyList(pubs: Publication[]): HTMLElement {
  if (pubs.length === 0) return h('p', { class: 'empty' }, 'No publications in history.');
  return h('ol', { class: 'tail', 'data-testid': 'history' }, ...pubs.map((p) => publicationItem(p, 'history-item')));
}

function presenceTable(entries: Awaited<ReturnType<typeof admin.channel>>['presence'], refresh: () => Promise<void>): HTMLElement {
  const rows = entries.map((e) => [
    e.user ? h('code', {}, e.user) : h('span', { class: 'muted' }, 'anonymous'),
    h('code', {}, e.client),
    e.node,
    e.transport,
    new Date(e.since).toLocaleTimeString(),
    e.user
      ? h(
          'button',
          {
            type: 'button',
            class: 'danger small',
            'data-testid': `disconnect-${e.user}`,
            onclick: async (ev) => {
              const button = ev.currentTarget as HTMLButtonElement;
              button.disabled = true;
              button.title = (await disconnect(e.user!)).text;
              await refresh();
            },
          },
          'Disconnect',
        )
      : null,
  ]);
  return table(['User', 'Client', 'Node', 'Transport', 'Since', ''], rows, 'Nobody is subscribed.', 'presence');
}

function publishForm(channel: string, published: () => void): HTMLElement {
  const text = h('textarea', { name: 'data', rows: '8', spellcheck: 'false', 'aria-label': 'JSON data', 'data-testid': 'publish-data' });
  text.value = json({ text: 'hello from the admin dashboard' });
  const result = h('p', { class: 'result', 'data-testid': 'publish-result', 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'publish',
      onsubmit: async (e) => {
        e.preventDefault();
        let data: JsonData;
        try {
          data = JSON.parse(text.value) as JsonData;
        } catch (err) {
          result.className = 'result error';
          result.textContent = `Not JSON: ${err instanceof Error ? err.message : String(err)}`;
          return;
        }
        try {
          const r = await admin.publish(channel, data);
          result.className = 'result ok';
          result.textContent = `Published at offset ${r.offset}.`;
          published();
        } catch (err) {
          result.className = 'result error';
          result.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    },
    text,
    h('div', { class: 'row' }, h('button', { type: 'submit', 'data-testid': 'publish-submit' }, 'Publish'), result),
  );
}
