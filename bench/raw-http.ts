// A minimal HTTP/1.1 client on one keep-alive socket, for the bench's pollers and SSE readers: node's
// http client costs tens of µs per request, which at 50,000 polls a second would make the client,
// not the server, the thing measured. Bytes are read as latin1 so string lengths are byte counts
// (chunk sizes); the bench's payloads are ASCII. Handles Content-Length and chunked bodies.
import net from 'node:net';

export interface ResponseHandler {
  /** Status and raw header block (lower-cased), before any body. */
  head?(status: number, headers: string): void;
  body(piece: string): void;
  end(): void;
}

type State = 'idle' | 'head' | 'length' | 'size' | 'chunk' | 'chunk-end' | 'trailer';

export class RawHttp {
  private buf = '';
  private state: State = 'idle';
  private left = 0;
  private handler: ResponseHandler | undefined;
  private closing = false;
  /** Set once the socket ended or failed; a request then fails at once. */
  private failed: Error | undefined;
  onClose: (err: Error) => void = () => {};

  private constructor(private readonly socket: net.Socket, private readonly host: string) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => this.read(s));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(this.state === 'idle' ? 'connection closed' : `connection closed mid-response (${this.state})`)));
  }

  static connect(url: string, localAddress?: string): Promise<RawHttp> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port), ...(localAddress ? { localAddress } : {}) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawHttp(socket, `${hostname}:${port}`));
      });
    });
  }

  /** One GET; the next may be sent once `end()` was called. `headers`: extra `name: value\r\n` lines. */
  get(path: string, handler: ResponseHandler, headers = ''): void {
    if (this.failed) throw this.failed;
    if (this.state !== 'idle') throw new Error('one request at a time');
    this.handler = handler;
    this.state = 'head';
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: ${this.host}\r\n${headers}\r\n`);
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    if (!this.closing) this.onClose(err);
  }

  private read(s: string): void {
    this.buf = this.buf === '' ? s : this.buf + s;
    for (;;) {
      const b = this.buf;
      if (this.state === 'head') {
        const end = b.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = b.slice(0, end).toLowerCase();
        this.buf = b.slice(end + 4);
        this.handler!.head?.(Number(head.slice(9, 12)), head);
        const length = /\r\ncontent-length: *(\d+)/.exec(head);
        if (length) [this.state, this.left] = ['length', Number(length[1])];
        else if (/\r\ntransfer-encoding: *chunked/.test(head)) this.state = 'size';
        else return this.fail(new Error(`response without a length: ${head.slice(0, 200)}`));
        if (this.state === 'length' && this.left === 0) this.done();
      } else if (this.state === 'length' || this.state === 'chunk') {
        if (b === '') return;
        const piece = b.length <= this.left ? b : b.slice(0, this.left);
        this.buf = b.length <= this.left ? '' : b.slice(this.left);
        this.left -= piece.length;
        this.handler!.body(piece);
        if (this.left > 0) continue;
        if (this.state === 'length') this.done();
        else this.state = 'chunk-end';
      } else if (this.state === 'size' || this.state === 'chunk-end' || this.state === 'trailer') {
        const eol = b.indexOf('\r\n');
        if (eol < 0) return;
        const line = b.slice(0, eol);
        this.buf = b.slice(eol + 2);
        if (this.state === 'chunk-end') {
          this.state = 'size';
        } else if (this.state === 'size') {
          this.left = parseInt(line, 16);
          this.state = this.left === 0 ? 'trailer' : 'chunk';
        } else if (line === '') {
          this.done(); // the blank line after the last chunk (and any trailers)
        }
      } else {
        if (b !== '') this.fail(new Error(`unexpected bytes between responses: ${b.slice(0, 100)}`));
        return;
      }
    }
  }

  private done(): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.state = 'idle';
    handler.end();
  }
}
