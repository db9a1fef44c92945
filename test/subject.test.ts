import { describe, expect, it } from 'vitest';
import { InvalidSubjectError, channelToken, subjectSpace, tokenChannel } from '../server/broker/nats/subject.js';

describe('channel → subject mapping', () => {
  const awkward = [
    'a',
    'chat:lobby',
    'user.42',
    'a.b.c',
    'news:europe.fr',
    'mail@example.com',
    'k=v',
    'x=2E',
    '=',
    '...',
    'ns_1:under_score-dash',
    'ns:a@b=c.d',
    `long:${'x.'.repeat(124)}y`,
  ];

  it.each(awkward)('maps %j to a single subject token and back', (channel) => {
    const token = channelToken(channel);
    expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
    expect(tokenChannel(token)).toBe(channel);
    const subject = subjectSpace('hubbub').history(channel);
    expect(subject.split('.')).toHaveLength(3);
    expect(subject).toBe(`hubbub.ch.${token}`);
  });

  it('never maps two channels to one token, even when one looks like an escape', () => {
    const tokens = awkward.map(channelToken);
    expect(new Set(tokens).size).toBe(awkward.length);
    expect(channelToken('x=2E')).not.toBe(channelToken('x.'));
    expect(channelToken('a.b')).not.toBe(channelToken('a_b'));
    expect(channelToken('a:b')).not.toBe(channelToken('a.b'));
  });

  it('keeps plain names readable', () => {
    expect(channelToken('room-1_a')).toBe('room-1_a');
    expect(channelToken('chat:lobby')).toBe('chat=3Alobby');
    expect(channelToken('user.42')).toBe('user=2E42');
  });

  it('rejects what is not a channel name instead of producing a wildcard or extra token', () => {
    for (const bad of ['', 'a b', 'a*', 'a>', 'x'.repeat(256), 'a:b c', 'é']) {
      expect(() => channelToken(bad), bad).toThrow(InvalidSubjectError);
    }
    expect(() => tokenChannel('a.b')).toThrow(InvalidSubjectError);
    expect(() => tokenChannel('a=2')).toThrow(InvalidSubjectError);
  });

  it('puts every name of a deployment under its prefix', () => {
    const s = subjectSpace('acme-prod');
    expect(s.stream).toBe('acme-prod_channels');
    expect(s.live('chat:x')).toBe('acme-prod.live.chat=3Ax');
    expect(s.epoch('chat:x')).toBe('acme-prod.epoch.chat=3Ax');
    expect(s.idempotency('AbC_-1')).toBe('acme-prod.idem.AbC_-1');
    expect(s.streamSubjects).toEqual(['acme-prod.ch.*']);
    expect([s.metaStream, ...s.metaSubjects]).toEqual(['acme-prod_meta', 'acme-prod.epoch.*']);
    expect(s.idempotencyStream).toBe('acme-prod_idempotency');
    expect(s.idempotencySubjects).toEqual(['acme-prod.idem.*']);
    expect(subjectSpace().prefix).toBe('hubbub');
  });

  it('rejects prefixes that are not one subject token', () => {
    for (const bad of ['', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(33)]) {
      expect(() => subjectSpace(bad), bad).toThrow(InvalidSubjectError);
    }
  });
});
