import { isIP } from 'node:net';

// Where the UDP door binds: `HOST:PORT`, `[::1]:PORT` or a bare `PORT`, which means loopback.

export function udpAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(value);
  if (!m) throw new Error(`not HOST:PORT: ${value}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}

/** Only this machine can send to it: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
