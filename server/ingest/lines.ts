// Splits a byte stream into lines of at most `limit` bytes. A longer line is reported once as
// oversize and its bytes are skipped up to the next newline, so one bad line costs the connection
// nothing more than an error reply, and no line is ever buffered past the limit.

export type LineEvent = { line: string } | { oversize: true };

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer, emit: (e: LineEvent) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      this.take(chunk.subarray(start, end), emit);
      if (nl < 0) return;
      this.finish(emit);
      start = nl + 1;
    }
  }

  /** At end of stream: a last line without a newline still counts. */
  end(emit: (e: LineEvent) => void): void {
    if (this.size > 0 || this.skipping) this.finish(emit);
  }

  private take(bytes: Buffer, emit: (e: LineEvent) => void): void {
    if (this.skipping || bytes.length === 0) return;
    if (this.size + bytes.length > this.limit) {
      this.parts = [];
      this.size = 0;
      this.skipping = true;
      emit({ oversize: true });
      return;
    }
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private finish(emit: (e: LineEvent) => void): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const line = Buffer.concat(this.parts, this.size).toString('utf8');
    this.parts = [];
    this.size = 0;
    // Blank lines (a trailing \r\n, an empty echo) are spacing, not messages.
    if (line.trim() !== '') emit({ line });
  }
}
