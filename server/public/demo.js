// The Hubbub demo: a chat room and a notifications feed over the browser client, and a form that
// publishes through the REST API exactly as a backend would. Plain ES module, no framework.
import { Hubbub, createPublisher } from '/client/hubbub.js';

const CHAT = 'chat:lobby';
const NOTIFICATIONS = 'notifications:demo';
const KEY_STORAGE = 'hubbub.demo.apiKey';
const NAME_STORAGE = 'hubbub.demo.name';
const HISTORY_ON_LOAD = 50;

const $ = (id) => document.getElementById(id);
const storage = {
  get: (k) => { try { return localStorage.getItem(k) ?? ''; } catch { return ''; } },
  set: (k, v) => { try { v ? localStorage.setItem(k, v) : localStorage.removeItem(k); } catch { /* private mode */ } },
};

// `?transports=sse,poll` forces the transport order (used by the browser tests).
const forced = new URLSearchParams(location.search).get('transports');
const options = forced ? { transports: forced.split(',').map((t) => t.trim()).filter(Boolean) } : {};
const hub = new Hubbub(location.origin, options);

/** Test hook: every publication and every subscribe result, in arrival order. */
const demo = { hub, received: [], states: [] };
window.hubbubDemo = demo;

/* ---------- connection badges ---------- */

function showTransport(name) {
  $('transport').textContent = name ?? 'none';
}
function showState(state) {
  $('state').textContent = state;
  $('state-badge').dataset.state = state;
}
hub.on('transport', (name) => showTransport(name));
hub.on('state', (state) => showState(state));
showTransport(hub.transport);
showState(hub.state);

/* ---------- rendering ---------- */

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // never innerHTML: data comes from anyone with the key
  return node;
}

function clearEmpty(list) {
  list.querySelector('.empty')?.remove();
}

function append(list, item) {
  clearEmpty(list);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const when = (pub) => timeFormat.format(new Date(pub.time ?? Date.now()));

/** With --presence-events chat, the server publishes joins and leaves into the channel itself. */
const PRESENCE_VERBS = { join: 'joined', leave: 'left' };

function renderChat(pub) {
  const data = pub.data ?? {};
  const presence = PRESENCE_VERBS[pub.tags?.hubbub];
  if (presence) return systemLine(`${data.user ?? `A visitor (${data.client})`} ${presence}`);
  const user = typeof data.user === 'string' ? data.user : 'someone';
  const text = typeof data.text === 'string' ? data.text : JSON.stringify(data);
  const item = el('li', user === $('chat-name').value.trim() ? 'mine' : '');
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', user), el('span', '', when(pub)), el('span', '', `#${pub.offset}`));
  item.append(meta, el('div', 'text', text));
  append($('chat-messages'), item);
}

function renderNotification(pub) {
  const data = pub.data;
  const item = el('li');
  if (data && typeof data === 'object' && typeof data.title === 'string') {
    item.append(el('div', 'title', data.title));
    if (data.body !== undefined) item.append(el('div', '', String(data.body)));
  } else {
    item.append(el('pre', '', JSON.stringify(data, null, 2)));
  }
  item.append(el('div', 'meta', `${when(pub)} · #${pub.offset}`));
  const list = $('notifications');
  clearEmpty(list);
  list.prepend(item);
}

function systemLine(text) {
  append($('chat-messages'), el('li', 'system', text));
}

/* ---------- subscriptions ---------- */

const seen = new Map(); // channel → number of subscribe results, to tell a first join from a resume

function subscribe(channel, render, since) {
  return hub.subscribe(channel, {
    since,
    onPublication(pub) {
      demo.received.push({ channel: pub.channel, data: pub.data, offset: pub.offset });
      render(pub);
    },
    onSubscribed(result) {
      demo.states.push({ channel: result.channel, recovered: result.recovered });
      const count = (seen.get(channel) ?? 0) + 1;
      seen.set(channel, count);
      // A resume that could not recover means publications were missed while disconnected.
      if (count > 1 && !result.recovered && channel === CHAT) systemLine('Reconnected; some messages may have been missed.');
    },
  });
}

/** With a key, show the recent chat and continue exactly after it; without one, start from now. */
async function startChat() {
  const publisher = publisherOrUndefined();
  const page = await publisher?.history(CHAT, { limit: HISTORY_ON_LOAD, reverse: true }).catch(() => undefined);
  if (!page) return subscribe(CHAT, renderChat);
  for (const pub of page.publications.reverse()) renderChat(pub);
  return subscribe(CHAT, renderChat, { epoch: page.epoch, offset: page.offset });
}

void startChat();
subscribe(NOTIFICATIONS, renderNotification);

/* ---------- publishing through the REST API ---------- */

/** The client library's publisher: POST /api/publish with `Authorization: Bearer <key>`. */
function publisherOrUndefined() {
  const apiKey = storage.get(KEY_STORAGE);
  return apiKey ? createPublisher({ url: location.origin, apiKey }) : undefined;
}

/** A HubbubError carries the contract's error code; anything else is shown as is. */
function describeError(err) {
  return err?.code ? `${err.status || ''} ${err.code}: ${err.message}`.trim() : String(err);
}

function showResult(text, ok) {
  const out = $('publish-result');
  out.hidden = false;
  out.className = `result ${ok ? 'ok' : 'error'}`;
  out.textContent = text;
}

$('publish-key').value = storage.get(KEY_STORAGE);
$('chat-name').value = storage.get(NAME_STORAGE);
$('chat-name').addEventListener('change', (e) => storage.set(NAME_STORAGE, e.target.value.trim()));
$('forget-key').addEventListener('click', () => {
  storage.set(KEY_STORAGE, '');
  $('publish-key').value = '';
  showResult('Key removed from this browser.', true);
});

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  storage.set(KEY_STORAGE, $('publish-key').value.trim());
  let data;
  try {
    data = JSON.parse($('publish-data').value);
  } catch (err) {
    return showResult(`Data is not valid JSON: ${err.message}`, false);
  }
  try {
    const result = await publisherOrUndefined()?.publish($('publish-channel').value.trim(), data);
    if (!result) return showResult('Enter the API key printed by the server at start.', false);
    showResult(`200 OK\n${JSON.stringify(result, null, 2)}`, true);
  } catch (err) {
    showResult(describeError(err), false);
  }
});

$('chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const hint = $('chat-hint');
  const user = $('chat-name').value.trim();
  const input = $('chat-text');
  storage.set(NAME_STORAGE, user);
  const publisher = publisherOrUndefined();
  if (!publisher) {
    hint.hidden = false;
    hint.textContent = 'Sending needs the API key the server printed at start: enter it in the Publish panel.';
    $('publish-key').focus();
    return;
  }
  try {
    await publisher.publish(CHAT, { user, text: input.value });
    hint.hidden = true;
    input.value = '';
  } catch (err) {
    hint.hidden = false;
    hint.textContent = `Not sent: ${describeError(err)}`;
  }
});

$('curl-example').textContent = $('curl-example').textContent.replace('http://localhost:8080', location.origin);
