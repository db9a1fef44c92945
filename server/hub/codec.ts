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
