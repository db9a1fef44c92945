import type { Socket } from 'node:net';

// What a loop turn writes to one socket leaves in one system call. A fan-out writes each
// publication to every subscriber's socket as it is published; several publications in one turn
// (a burst of publish requests, a NATS batch) would each cost every socket a writev, and on
// loopback that syscall is most of what a delivery costs. A socket is corked at its first write of
// a turn and uncorked once, after the turn's I/O (setImmediate): the bytes are the same, they go
// out together, at most one turn later. Node's http response and ws cork and uncork in pairs
// around their own writes, which nests inside this.

export class TurnWrites {
  private corked: Socket[] = [];

  private readonly release = (): void => {
    const sockets = this.corked;
    this.corked = [];
    // end() and destroy() uncork on their own: only a socket still corked is let go.
    for (const socket of sockets) if (socket.writableCorked > 0) socket.uncork();
  };

  /** Call before writing to `socket` on the fan-out path. */
  hold(socket: Socket | null): void {
    if (socket === null || socket.writableCorked > 0) return;
    socket.cork();
    if (this.corked.push(socket) === 1) setImmediate(this.release);
  }
}
