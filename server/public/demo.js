// The Hubbub demo: a chat room with its member list, and a notifications feed of one's own, over
// the browser client. The page holds no API key: it signs in under a display name with a
// short-lived token from the server's development endpoint (POST /dev/token, on only when the
// server has no token key and no config file), and publishes to the chat as that user; the server
// stamps who published. A production app gets its tokens from its own backend instead
// (docs/security.md). Plain ES module, no framework.
import { Hubbub, HubbubError } from '/client/hubbub.js';
import { Members, nameOf } from '/members.js';

const CHAT = 'chat:lobby';
/** Who this browser signed in as ({name, user}), so a reload keeps the identity. Never a key. */
const IDENTITY_STORAGE = 'hubbub.demo.identity';

const $ = (id) => document.getElementById(id);
const storage = {
  get: (k) => { try { return JSON.parse(localStorage.getItem(k) ?? 'null'); } catch { return null; } },
  set: (k, v) => { try { v ? localStorage.setItem(k, JSON.stringify(v)) : localStorage.removeItem(k); } catch { /* private mode */ } },
};

// `?transports=sse,poll` forces the transport order (used by the browser tests).
const forced = new URLSearchParams(location.search).get('transports');
const transportOptions = forced ? { transports: forced.split(',').map((t) => t.trim()).filter(Boolean) } : {};

/** Test hook: every publication and every subscribe result in arrival order, and the member list. */
const demo = { hub: undefined, user: undefined, name: undefined, received: [], states: [], members: () => members.list() };
window.hubbubDemo = demo;

let me; // { name, user }
let myClient; // this page's connection id, as join and leave events name it
const members = new Members(renderMembers);

/* ---------- signing in ---------- */

/** A user id from the name plus a random suffix, so two visitors called Ada stay two users. */
function newIdentity(name) {
  const slug = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24);
  const suffix = [...crypto.getRandomValues(new Uint8Array(2))].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { name, user: `${slug || 'guest'}-${suffix}` };
}

/** POST /dev/token for this identity; also the client's getToken, so tokens are refreshed before they expire. */
async function devToken(identity) {
  let res;
  try {
    res = await fetch('/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: identity.user, info: { name: identity.name } }),
    });
  } catch (cause) {
    throw new HubbubError('unavailable', `POST /dev/token failed: ${String(cause)}`, { status: 0, retryable: true, cause });
  }
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw HubbubError.fromResponse(res.status, body);
  return body.token;
}

async function signIn(identity) {
  const hint = $('join-hint');
  let token;
  try {
    token = await devToken(identity);
  } catch (err) {
    hint.hidden = false;
    hint.textContent =
      err?.code === 'not_found'
        ? 'This server is not in development mode (it has a token key or a config file), so it mints no tokens for pages: your backend does that.'
        : `Could not get a token: ${describeError(err)}`;
    return;
  }
  me = identity;
  storage.set(IDENTITY_STORAGE, identity);
  Object.assign(demo, { user: identity.user, name: identity.name });
  $('join').hidden = true;
  $('room').hidden = false;
  $('me-badge').hidden = false;
  $('me').textContent = identity.name;
  members.add('self', identity.user, identity.name);
  connect(token);
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('join-name').value.trim();
  if (name) void signIn(newIdentity(name));
});

$('sign-out').addEventListener('click', () => {
  storage.set(IDENTITY_STORAGE, null);
  location.reload();
});

/* ---------- the connection ---------- */

function connect(token) {
  const hub = new Hubbub(location.origin, { ...transportOptions, token, getToken: () => devToken(me) });
  demo.hub = hub;
  hub.on('transport', (name) => ($('transport').textContent = name ?? 'none'));
  hub.on('state', showState);
  hub.on('connected', (info) => (myClient = info.client));
  hub.on('closed', ({ error }) => error && showHint(`Disconnected for good: ${describeError(error)}. Reload to try again.`));
  showState(hub.state);
  subscribe(hub, CHAT, onChat, onChatSubscribed);
  subscribe(hub, notificationsChannel(), renderNotification);
  showExamples();
}

function showState(state) {
  $('state').textContent = state;
  $('state-badge').dataset.state = state;
}

/** The user's own channel (`#` marks a user channel): only a connection of this user may subscribe. */
const notificationsChannel = () => `notifications:#${me.user}`;

function subscribe(hub, channel, render, onResult) {
  return hub.subscribe(channel, {
    onPublication(pub) {
      demo.received.push({ channel: pub.channel, data: pub.data, offset: pub.offset, ...(pub.tags ? { tags: pub.tags } : {}) });
      render(pub);
    },
    onSubscribed(result) {
      demo.states.push({ channel: result.channel, recovered: result.recovered });
      onResult?.(result);
    },
    onError: (err) => showHint(`${channel}: ${describeError(err)}`),
  });
}

let chatResults = 0;
function onChatSubscribed(result) {
  chatResults += 1;
  // A resume that could not recover missed publications, joins and leaves among them.
  if (chatResults > 1 && !result.recovered) {
    systemLine('Reconnected; some messages may have been missed.');
    members.clear();
    members.add('self', me.user, me.name);
  }
}

/* ---------- the chat ---------- */

function onChat(pub) {
  const kind = pub.tags?.hubbub;
  if (kind === 'join' || kind === 'leave') return onJoinOrLeave(kind, pub.data ?? {});
  if (pub.publisher && pub.data?.type === 'here') {
    if (typeof pub.data.client === 'string') members.add(pub.data.client, pub.publisher.user, nameOf(pub.publisher.info, pub.publisher.user));
    return;
  }
  renderMessage(pub);
}

function onJoinOrLeave(kind, data) {
  if (typeof data.client !== 'string' || typeof data.user !== 'string') return;
  const name = nameOf(data.info, data.user);
  if (kind === 'leave') {
    const gone = members.remove(data.client);
    if (gone && data.user !== me.user) systemLine(`${gone.name} left`);
    return;
  }
  const isNew = !members.has(data.user);
  members.add(data.client, data.user, name);
  if (data.user === me.user) return;
  if (isNew) systemLine(`${name} joined`);
  sayHere();
}

/**
 * Tells a newcomer this page is here. Not over long-poll: the server announces no join or leave
 * for it, so others could never see it go.
 */
function sayHere() {
  const hub = demo.hub;
  if (!myClient || hub.state !== 'connected' || hub.transport === 'poll') return;
  hub.publish(CHAT, { type: 'here', client: myClient }).catch((err) => showHint(`Could not announce this page: ${describeError(err)}`));
}

/** The sender's name is the server's stamp (`publisher.info.name`), never something in the data. */
function renderMessage(pub) {
  const from = pub.publisher;
  const who = from ? nameOf(from.info, from.user) : 'backend';
  const text = typeof pub.data?.text === 'string' ? pub.data.text : JSON.stringify(pub.data);
  const item = el('li', from?.user === me.user ? 'mine' : '');
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', who), el('span', '', when(pub)), el('span', '', `#${pub.offset}`));
  item.append(meta, el('div', 'text', text));
  append($('chat-messages'), item);
}

$('chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('chat-text');
  const text = input.value.trim();
  if (!text || !demo.hub) return;
  try {
    await demo.hub.publish(CHAT, { text });
    $('chat-hint').hidden = true;
    input.value = '';
  } catch (err) {
    showHint(`Not sent: ${describeError(err)}`);
  }
});

function renderMembers() {
  const list = $('members');
  list.replaceChildren(
    ...members.list().map((m) => {
      const item = el('li', m.user === me?.user ? 'me' : '', m.name);
      item.dataset.user = m.user;
      item.title = m.user;
      return item;
    }),
  );
}

/* ---------- notifications ---------- */

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
  list.querySelector('.empty')?.remove();
  list.prepend(item);
}

function showExamples() {
  const channel = notificationsChannel();
  $('notifications-channel').textContent = channel;
  const body = JSON.stringify({ channel, data: { title: 'Deploy finished', body: 'v1.2.3 is live' } });
  $('notify-example').textContent = `curl -X POST ${location.origin}/api/publish \\
  -H "Authorization: Bearer $HUBBUB_API_KEY" -H 'Content-Type: application/json' \\
  -d '${body}'`;
}

/* ---------- rendering helpers ---------- */

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // never innerHTML: data comes from other users
  return node;
}

function append(list, item) {
  list.querySelector('.empty')?.remove();
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function systemLine(text) {
  append($('chat-messages'), el('li', 'system', text));
}

function showHint(text) {
  const hint = $('chat-hint');
  hint.hidden = false;
  hint.textContent = text;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const when = (pub) => timeFormat.format(new Date(pub.time ?? Date.now()));

/** A HubbubError carries the contract's error code; anything else is shown as is. */
function describeError(err) {
  return err?.code ? `${err.status || ''} ${err.code}: ${err.message}`.trim() : String(err);
}

$('curl-example').textContent = $('curl-example').textContent.replace('http://localhost:8080', location.origin);

// A browser that signed in before keeps its identity (and its notifications channel) across reloads.
const saved = storage.get(IDENTITY_STORAGE);
if (saved && typeof saved.name === 'string' && typeof saved.user === 'string') void signIn(saved);
else $('join-name').focus();
