// The kernel's own table of TCP sockets (Linux /proc/net/tcp): whether the server's end of a loopback
// connection still exists and how many unsent bytes it holds, after the server let go of it.
import { readFileSync } from 'node:fs';

const LOOPBACK = '0100007F';
const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');

/** The server end of the connection from `clientPort`, or undefined once the kernel has no socket for it. */
export function serverEnd(serverPort: number, clientPort: number): { state: string; sendQueue: number } | undefined {
  const local = `${LOOPBACK}:${hexPort(serverPort)}`;
  const remote = `${LOOPBACK}:${hexPort(clientPort)}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) return { state: f[3]!, sendQueue: parseInt(f[4]!.split(':')[0]!, 16) };
  }
  return undefined;
}
