// The Hubbub demo: a chat room and a notifications feed over the browser client, and a form that
// publishes through the REST API exactly as a backend would. Plain ES module, no framework.
import { Hubbub } from '/client/hubbub.js';

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
showState(hub.state ?? 'connecting');

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

function renderChat(pub) {
  const data = pub.data ?? {};
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
  const key = storage.get(KEY_STORAGE);
  if (key) {
    const res = await fetch(`/api/channels/${CHAT}/history?limit=${HISTORY_ON_LOAD}&reverse=true`, {
      headers: { authorization: `Bearer ${key}` },
    }).catch(() => undefined);
    if (res?.ok) {
      const page = await res.json();
      for (const pub of page.publications.reverse()) renderChat(pub);
      return subscribe(CHAT, renderChat, { epoch: page.epoch, offset: page.offset });
    }
  }
  return subscribe(CHAT, renderChat);
}

void startChat();
subscribe(NOTIFICATIONS, renderNotification);

/* ---------- publishing through the REST API ---------- */

async function publish(channel, data) {
  const key = storage.get(KEY_STORAGE);
  const res = await fetch('/api/publish', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  const body = await res.json().catch(() => undefined);
  return { ok: res.ok, status: res.status, body };
}

function describeError(result) {
  const b = result.body;
  return b && b.code ? `${result.status} ${b.code}: ${b.message}` : `HTTP ${result.status}`;
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
  const result = await publish($('publish-channel').value.trim(), data).catch((err) => ({ ok: false, status: 0, body: { code: 'network', message: err.message } }));
  showResult(result.ok ? `200 OK\n${JSON.stringify(result.body, null, 2)}` : describeError(result), result.ok);
});

$('chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const hint = $('chat-hint');
  const user = $('chat-name').value.trim();
  const input = $('chat-text');
  storage.set(NAME_STORAGE, user);
  if (!storage.get(KEY_STORAGE)) {
    hint.hidden = false;
    hint.textContent = 'Sending needs the API key the server printed at start: enter it in the Publish panel.';
    $('publish-key').focus();
    return;
  }
  const result = await publish(CHAT, { user, text: input.value }).catch(() => ({ ok: false, status: 0, body: undefined }));
  hint.hidden = result.ok;
  if (result.ok) input.value = '';
  else hint.textContent = `Not sent: ${describeError(result)}`;
});

$('curl-example').textContent = $('curl-example').textContent.replace('http://localhost:8080', location.origin);
