import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Counts the requests in flight on each socket of an HTTP server. Node's closeIdleConnections()
 * skips sockets that never sent a request (browser preconnects, a fetch pool's spare socket),
 * so without this a shutdown would wait its whole timeout for them.
 */
export function trackConnections(server: Server, connectionEvent: 'connection' | 'secureConnection' = 'connection'): { closeUnused(): void; readonly size: number } {
  // Only 'connection' ('secureConnection' over TLS, whose requests carry the TLS socket) adds a
  // socket. The other listeners update an entry that is still there and
  // never re-create one: a socket's own 'close' runs before its response's, so a response that
  // closes with its socket (an SSE stream or a waiting long-poll whose client left) must not
  // bring the socket back, where nothing would ever delete it again.
  const inFlight = new Map<Socket, number>();
  let closing = false;
  // One listener for every socket, added with on() (a socket closes once): once() would wrap it in
  // a bound function and a state object, and a closure per socket costs as much again.
  function socketClosed(this: Socket): void {
    inFlight.delete(this);
  }
  server.on(connectionEvent, (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.on('close', socketClosed);
  });
  // One listener function for every response (no closure per request): the response knows its request's socket.
  function responseClosed(this: ServerResponse): void {
    const socket = this.req.socket;
    const n = inFlight.get(socket);
    if (n === undefined) return;
    inFlight.set(socket, n - 1);
    if (closing && n === 1) socket.destroy();
  }
  server.on('request', (req, res) => {
    const socket = req.socket;
    const before = inFlight.get(socket);
    if (before === undefined) return;
    inFlight.set(socket, before + 1);
    // on(), not once(): a response closes once, and once() would wrap the listener per request.
    res.on('close', responseClosed);
  });
  // An upgraded socket belongs to its transport (WebSocket), which closes it with a close code.
  server.on('upgrade', (req) => {
    inFlight.delete(req.socket);
    req.socket.removeListener('close', socketClosed);
  });
  return {
    closeUnused() {
      closing = true;
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
    },
    get size() {
      return inFlight.size;
    },
  };
}
