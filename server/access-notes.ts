import { type Config, devNamespaces } from './config.js';
import { type NamespaceOptions, Namespaces } from './session/namespaces.js';

/** What the start log says about who may do what, so an open server never looks locked by accident. */
export function accessNotes(config: Config): string[] {
  const notes: string[] = [];
  const namespaces = new Namespaces(config.defaults, config.namespaces as Record<string, Partial<NamespaceOptions>>);
  if (namespaces.allPublic) {
    notes.push('channels are public: anyone may subscribe to any channel (user channels #<id> excepted); set namespaces in a --config file to restrict them');
  }
  if (config.devTokenSecret !== undefined) {
    const opened = Object.entries(devNamespaces())
      .map(([ns, o]) => `${ns} (${Object.entries(o).map(([k, v]) => `${k}: ${String(v)}`).join(', ')})`)
      .join(', ');
    notes.push(`development mode (no token key, no config file): POST /dev/token mints a token for any user, and the demo's namespace ${opened} takes client publishes from them; never expose this server`);
  }
  return notes;
}
