import compress from 'koa-compress';
import type { Middleware } from 'koa';

// Compression for the static routes only (static.ts): Swagger UI's bundle is 1.7 MB as it is.
// Never for the realtime routes: an SSE stream or a waiting poll must leave byte by byte as written,
// and a compressor would hold them back in its window. The REST answers are a few hundred bytes,
// under the threshold, so they are not wrapped either (nothing to gain, a Vary header to lose).

/** Smaller bodies are sent as they are: the encoding would cost more than it saves. */
export const COMPRESSION_THRESHOLD = 1024;

/** Text types only (not the PNG favicons); never an event stream, whatever route would send one. */
const COMPRESSIBLE = /^(text\/|application\/(javascript|json)|image\/svg\+xml)/;

export function staticCompression(): Middleware {
  return compress({
    threshold: COMPRESSION_THRESHOLD,
    filter: (type) => COMPRESSIBLE.test(type) && !type.startsWith('text/event-stream'),
    gzip: {},
    // koa-compress's own default quality (4): close to gzip -9 in size at a fraction of brotli 11's time.
    br: {},
    deflate: false,
  });
}
