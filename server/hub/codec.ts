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
}

export class CodecRegistry {
  private readonly codecs: Codec[] = [];

  register<F>(name: string, encode: (pub: Publication) => F): Codec<F> {
    const existing = this.codecs.find((c) => c.name === name);
    if (existing) return existing as Codec<F>;
    const codec: Codec<F> = { name, slot: this.codecs.length, encode };
    this.codecs.push(codec);
    return codec;
  }

  get size(): number {
    return this.codecs.length;
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
