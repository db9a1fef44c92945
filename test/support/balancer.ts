import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Balancer extends AsyncDisposable {
  url: string;
  /** How many requests/upgrades each target received. */
  hits: number[];
  close(): Promise<void>;
}

/**
 * A round-robin load balancer per request (not per TCP connection): each HTTP request and each
 * WebSocket upgrade goes to the next target, the way a stateless proxy with no sticky sessions
 * would spread a browser's traffic. Targets that refuse the connection are skipped.
 */
export async function startBalancer(targets: string[]): Promise<Balancer> {
  let next = 0;
  const hits = targets.map(() => 0);
  const agent = new http.Agent({ keepAlive: true });
  const pick = () => {
    const i = next++ % targets.length;
    return { i, url: new URL(targets[i]!) };
  };

  const server = http.createServer((req, res) => {
    const forward = (attempt: number) => {
      const { i, url } = pick();
      hits[i]! += 1;
      const upstream = http.request(
        { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers, agent },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          // pipe() leaves the client's response open when the target dies mid-response (an SSE
          // stream): cut it too, as a real proxy does, so the client notices.
          up.on('close', () => {
            if (!up.complete) res.destroy();
          });
          up.pipe(res);
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' && attempt < targets.length && !res.headersSent) return forward(attempt + 1);
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      res.on('close', () => upstream.destroy());
      if (attempt === 0) req.pipe(upstream);
      else upstream.end();
    };
    forward(0);
  });

  server.on('upgrade', (req, socket, head) => {
    const connectTo = (attempt: number) => {
      const { i, url } = pick();
      hits[i]! += 1;
      const upstream = net.connect(Number(url.port), url.hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let k = 0; k < req.rawHeaders.length; k += 2) lines.push(`${req.rawHeaders[k]}: ${req.rawHeaders[k + 1]}`);
        upstream.write(lines.join('\r\n') + '\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' && attempt < targets.length) return connectTo(attempt + 1);
        socket.destroy();
      });
      socket.on('error', () => upstream.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    };
    connectTo(0);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    server.closeAllConnections();
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close, [Symbol.asyncDispose]: close };
}
