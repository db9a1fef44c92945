// The admin dashboard (served at /admin, docs/admin.md): sign in, then a hash router over its
// pages. Bundled by server/http/client-bundle.ts with the client, typed from contract/admin.ts.
import { HubbubError } from '../errors.js';
import { admin } from './api.js';
import { channelPage } from './channel-page.js';
import { type Page, channelsPage, configPage, nodesPage, usersPage } from './pages.js';

const PAGES: Record<string, Page> = { nodes: nodesPage, channels: channelsPage, channel: channelPage, users: usersPage, config: configPage };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let leave: (() => void) | undefined;

function route(): void {
  const [, name = 'nodes', ...rest] = location.hash.split('/');
  const page = PAGES[name] ?? nodesPage;
  leave?.();
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    link.classList.toggle('active', link.dataset['page'] === name || (name === 'channel' && link.dataset['page'] === 'channels'));
  }
  leave = page($('main'), decodeURIComponent(rest.join('/')));
}

function showApp(who: string): void {
  $('login').hidden = true;
  $('app').hidden = false;
  $('who').textContent = who;
  window.addEventListener('hashchange', route);
  route();
}

async function start(): Promise<void> {
  const form = $<HTMLFormElement>('login-form');
  const error = $('login-error');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const secret = $<HTMLInputElement>('login-secret');
    try {
      const session = await admin.login(secret.value);
      secret.value = '';
      showApp(session.who);
    } catch (err) {
      error.textContent = err instanceof HubbubError && err.code === 'admin_login_failed' ? 'Wrong password or key.' : err instanceof Error ? err.message : String(err);
      error.hidden = false;
    }
  });
  $('logout').addEventListener('click', async () => {
    await admin.logout().catch(() => undefined);
    location.hash = '';
    location.reload();
  });
  const session = await admin.session().catch(() => undefined);
  if (session) showApp(session.who);
  else {
    $('login').hidden = false;
    $('login-secret').focus();
  }
}

void start();
