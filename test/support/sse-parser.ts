/** One dispatched event, as EventSource would deliver it. */
export interface SseEvent {
  type: string;
  data: string;
  lastEventId: string;
}

export interface SseParserHandlers {
  onEvent(event: SseEvent): void;
  /** A valid `retry:` field: the new reconnection time in ms. */
  onRetry?(ms: number): void;
  onComment?(text: string): void;
}

/**
 * The event-stream parser of the HTML spec ("Interpreting an event stream"), fed with decoded text in
 * chunks of any size: a line, a field or a CRLF may be split between two chunks.
 */
export class SseParser {
  #partial = '';
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to the same line end. */
  #skipLf = false;
  #data = '';
  #hasData = false;
  #type = '';
  #idBuffer: string;
  #bomChecked = false;

  constructor(
    private readonly handlers: SseParserHandlers,
    /** The id of the last event before a reconnect; it stays the lastEventId until the stream sets another. */
    lastEventId = '',
  ) {
    this.#idBuffer = lastEventId;
  }

  get lastEventId(): string {
    return this.#idBuffer;
  }

  feed(chunk: string): void {
    let text = chunk;
    if (!this.#bomChecked && text.length > 0) {
      this.#bomChecked = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    if (this.#skipLf && text.charCodeAt(0) === 10) start = 1;
    if (text.length > 0) this.#skipLf = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#partial + text.slice(start, i);
      this.#partial = '';
      if (c === 13) {
        if (i + 1 === text.length) this.#skipLf = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.#line(line);
    }
    this.#partial += text.slice(start);
  }

  /** Resets the per-connection state; an event cut off by the end of the stream is discarded, as the spec says. */
  reset(): void {
    this.#partial = '';
    this.#skipLf = false;
    this.#data = '';
    this.#hasData = false;
    this.#type = '';
    this.#bomChecked = false;
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.charCodeAt(0) === 58 /* : */) return this.handlers.onComment?.(line.slice(1).trimStart());
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#type = value;
        break;
      case 'data':
        this.#data = this.#hasData ? `${this.#data}\n${value}` : value;
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.handlers.onRetry?.(Number(value));
        break;
      default:
      // Unknown fields are ignored.
    }
  }

  #dispatch(): void {
    const hasData = this.#hasData;
    const event: SseEvent = { type: this.#type || 'message', data: this.#data, lastEventId: this.#idBuffer };
    this.#data = '';
    this.#hasData = false;
    this.#type = '';
    if (hasData) this.handlers.onEvent(event);
  }
}
