import type { Publication } from '../../contract/index.js';

/**
 * How one transport turns a publication into bytes. One Codec instance is shared by all
 * connections of a transport, so the hub encodes each publication once per transport.
 */
export interface Codec<F = unknown> {
  readonly name: string;
  /** Index into the per-publication frame cache; assigned by the hub. */
  readonly slot: number;
  encode(pub: Publication): F;
  /** The bytes of an encoded frame (what the transport writes for it, framing aside). */
  bytes(frame: F): number;
  /** What the hub handed this transport's subscribers, read by metrics and stats at scrape time. */
  readonly tally: DeliveryTally;
}

/**
 * Plain numbers the hub adds to: one integer add per delivery on the fan-out path, bytes once
 * per publication and codec (frame size × its recipients), so counting costs no call per subscriber.
 */
export interface DeliveryTally {
  /** Publications handed to a subscriber (live fan-out, backlogs and catch-ups). */
  deliveries: number;
  /** Their encoded frames' bytes. */
  bytes: number;
  /** Subscriptions from a position: continued without a gap, or not (the client missed publications). */
  recovered: number;
  unrecovered: number;
  /** deliveries when the current fan-out began (CodecRegistry.beginFanOut). */
  mark: number;
}

export class CodecRegistry {
  private readonly codecs: Codec[] = [];

  register<F>(name: string, encode: (pub: Publication) => F, bytes: (frame: F) => number = () => 0): Codec<F> {
    const existing = this.codecs.find((c) => c.name === name);
    if (existing) return existing as Codec<F>;
    const tally: DeliveryTally = { deliveries: 0, bytes: 0, recovered: 0, unrecovered: 0, mark: 0 };
    const codec: Codec<F> = { name, slot: this.codecs.length, encode, bytes, tally };
    this.codecs.push(codec as Codec);
    return codec;
  }

  get size(): number {
    return this.codecs.length;
  }

  /** The registered codecs, in slot order (metrics read their tallies). */
  list(): readonly Codec[] {
    return this.codecs;
  }

  beginFanOut(): void {
    for (const c of this.codecs) c.tally.mark = c.tally.deliveries;
  }

  /** After a fan-out of one publication: each codec's frame bytes times the deliveries made since beginFanOut. */
  endFanOut(frames: readonly unknown[]): void {
    for (const c of this.codecs) {
      const n = c.tally.deliveries - c.tally.mark;
      if (n > 0) c.tally.bytes += n * c.bytes(frames[c.slot]);
    }
  }
}

/**
 * Each publication's frames, one per codec slot, encoded on first use: the live fan-out encodes a
 * publication once per codec, and a backlog served again and again from the recent window (long-polls
 * a few offsets behind) reuses those frames instead of encoding per subscriber. Held weakly: a
 * publication's frames go when the publication does.
 */
export class FrameCache {
  private readonly byPub = new WeakMap<Publication, unknown[]>();

  /** The frames of `pub`, to be filled by slot. */
  of(pub: Publication): unknown[] {
    let frames = this.byPub.get(pub);
    if (frames === undefined) {
      frames = [];
      this.byPub.set(pub, frames);
    }
    return frames;
  }

  frame<F>(codec: Codec<F>, pub: Publication): F {
    const frames = this.of(pub);
    let frame = frames[codec.slot] as F | undefined;
    if (frame === undefined) frame = frames[codec.slot] = codec.encode(pub);
    return frame;
  }
}
