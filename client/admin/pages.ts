import { admin } from './api.js';
import { bytes, card, duration, h, json, table } from './dom.js';

// The dashboard's pages other than a channel's: nodes, channels, users and configuration. Each
// renders into `main` and returns what stops its refresh when the page is left.

export type Page = (main: HTMLElement, arg: string) => () => void;

/** Re-renders every `ms` while the page is shown; a failed call shows its error instead of the content. */
function refreshing(main: HTMLElement, ms: number, render: () => Promise<Node[]>): () => void {
  let stopped = false;
  const tick = async () => {
    try {
      const nodes = await render();
      if (!stopped) main.replaceChildren(...nodes);
    } catch (err) {
      if (!stopped) main.replaceChildren(errorBox(err));
    }
  };
  void tick();
  const timer = setInterval(tick, ms);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export function errorBox(err: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

export function header(title: string, sub?: string): HTMLElement {
  return h('header', { class: 'page-head' }, h('h1', {}, title), sub ? h('p', { class: 'sub' }, sub) : null);
}

export const nodesPage: Page = (main) =>
  refreshing(main, 3000, async () => {
    const nodes = await admin.nodes();
    const now = Date.now();
    const rows = nodes.map((n) => [
      h('code', { 'data-testid': 'node-id' }, n.node),
      n.version,
      duration(now - n.startedAt),
      h('span', { class: 'num', 'data-testid': 'node-connections' }, n.connections ?? '—'),
      h('span', { class: 'num' }, n.subscriptions ?? '—'),
      h('span', { class: 'num' }, n.channels ?? '—'),
      h('span', { class: 'num' }, bytes(n.rss)),
      h('span', { class: 'num' }, n.cpu === undefined ? '—' : `${n.cpu.toFixed(1)} %`),
      `${duration(now - n.lastSeen)} ago`,
    ]);
    const total = (k: 'connections' | 'subscriptions') => nodes.reduce((s, n) => s + (n[k] ?? 0), 0);
    return [
      header('Nodes', 'Live nodes of the cluster, from their heartbeats. Refreshes every 3 s.'),
      h(
        'div',
        { class: 'stats' },
        stat('Nodes', nodes.length),
        stat('Connections', total('connections')),
        stat('Subscriptions', total('subscriptions')),
      ),
      card('Cluster', table(['Node', 'Version', 'Uptime', 'Connections', 'Subscriptions', 'Channels', 'Memory', 'CPU', 'Last heartbeat'], rows, 'No nodes.', 'nodes')),
    ];
  });

function stat(label: string, value: number): HTMLElement {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
}

export const channelsPage: Page = (main) =>
  refreshing(main, 3000, async () => {
    const channels = await admin.channels();
    const rows = channels.map((c) => [
      h('a', { href: `#/channel/${encodeURIComponent(c.channel)}` }, h('code', {}, c.channel)),
      h('span', { class: 'num' }, c.subscribers),
      h('span', { class: 'num' }, `${c.rate.toFixed(2)}/s`),
      h('span', { class: 'num' }, c.offset),
      h('span', { class: 'num' }, c.nodes),
    ]);
    return [
      header('Channels', 'Channels with subscribers on any node, busiest first. Refreshes every 3 s.'),
      openChannelForm(),
      card('Active channels', table(['Channel', 'Subscribers', 'Publications', 'Offset', 'Nodes'], rows, 'No channel has subscribers right now.', 'channels')),
    ];
  });

/** Any channel can be opened by name, subscribers or not (to publish to it, or read its history). */
function openChannelForm(): HTMLElement {
  const input = h('input', { name: 'channel', placeholder: 'channel name, e.g. chat:lobby', required: true, 'aria-label': 'Channel', 'data-testid': 'open-channel' });
  return h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = `#/channel/${encodeURIComponent(input.value.trim())}`;
      },
    },
    input,
    h('button', { type: 'submit' }, 'Open channel'),
  );
}

export const usersPage: Page = (main) => {
  const result = h('p', { class: 'result', 'data-testid': 'disconnect-result', 'aria-live': 'polite' });
  const input = h('input', { name: 'user', placeholder: 'user id', required: true, 'aria-label': 'User id', 'data-testid': 'disconnect-user' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const outcome = await disconnect(input.value.trim());
        result.className = outcome.ok ? 'result ok' : 'result error';
        result.textContent = outcome.text;
      },
    },
    input,
    h('button', { type: 'submit', class: 'danger', 'data-testid': 'disconnect-submit' }, 'Disconnect'),
  );
  main.replaceChildren(
    header('Users', 'Disconnect every connection of a user, on every node.'),
    card(
      'Disconnect a user',
      h('p', { class: 'note' }, 'The client is told not to reconnect, and the tokens its connections held are refused from now on: its backend must sign a new one.'),
      form,
      result,
    ),
  );
  return () => undefined;
};

/** Disconnects a user; the outcome as text for the page. */
export async function disconnect(user: string): Promise<{ ok: boolean; text: string }> {
  try {
    const r = await admin.disconnect(user);
    return { ok: true, text: `Disconnected ${r.user}: ${r.connections} connection${r.connections === 1 ? '' : 's'} closed.` };
  } catch (err) {
    return { ok: false, text: err instanceof Error ? err.message : String(err) };
  }
}

export const configPage: Page = (main) => {
  void admin.config().then(
    (config) => {
      const settings = Object.entries(config.settings).map(([k, v]) => [h('code', {}, k), h('code', { class: 'value' }, v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v))]);
      const keys = config.apiKeys.map((k) => [h('code', {}, k.name), h('code', {}, k.key), k.namespaces.join(', '), k.operations.join(', ')]);
      main.replaceChildren(
        header('Configuration', 'The effective settings of this node (flags, environment, config file). Secrets are masked.'),
        card('Settings', table(['Setting', 'Value'], settings, 'None.', 'settings', 'kv')),
        card('Scoped API keys', table(['Name', 'Key', 'Namespaces', 'Operations'], keys, 'No scoped keys in the config file.')),
        card('Namespaces', h('pre', { class: 'json' }, json({ defaults: config.defaults, namespaces: config.namespaces }))),
      );
    },
    (err: unknown) => main.replaceChildren(errorBox(err)),
  );
  return () => undefined;
};
