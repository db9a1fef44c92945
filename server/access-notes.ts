import type { Config } from './config.js';
import { type NamespaceOptions, Namespaces } from './session/namespaces.js';

/** What the start log says about who may do what, so an open server never looks locked by accident. */
export function accessNotes(config: Config): string[] {
  const notes: string[] = [];
  const namespaces = new Namespaces(config.defaults, config.namespaces as Record<string, Partial<NamespaceOptions>>);
  if (namespaces.allPublic) {
    notes.push('channels are public: anyone may subscribe to any channel (user channels #<id> excepted); set namespaces in a --config file to restrict them');
  }
  if (config.devTokenSecret !== undefined) {
    notes.push('development mode (no token key, no config file): POST /dev/token mints a token for any user; never expose this server');
  }
  return notes;
}
