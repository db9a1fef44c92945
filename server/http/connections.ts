import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Counts the requests in flight on each socket of an HTTP server. Node's closeIdleConnections()
 * skips sockets that never sent a request (browser preconnects, a fetch pool's spare socket),
 * so without this a shutdown would wait its whole timeout for them.
 */
export function trackConnections(server: Server): { closeUnused(): void } {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  // An upgraded socket belongs to its transport (WebSocket), which closes it with a close code.
  server.on('upgrade', (req) => inFlight.delete(req.socket));
  return {
    closeUnused() {
      closing = true;
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
    },
  };
}
