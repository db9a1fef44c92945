import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type ConnectionIdentity, type SubscriptionGrant } from '../server/auth/tokens.js';
import { Namespaces } from '../server/session/namespaces.js';
import { Policy } from '../server/session/policy.js';
import { isChannelName, channelUsers } from '../contract/index.js';

const user = (name: string, channels: string[] = []): ConnectionIdentity => ({ user: name, info: undefined, channels, expiresAt: undefined });
const grant = (u: string, channel: string): SubscriptionGrant => ({ user: u, channel, info: undefined, expiresAt: undefined });

const policy = new Policy(
  new Namespaces(
    { subscribe: 'anyone', publish: 'nobody' },
    {
      members: { subscribe: 'authenticated' },
      chat: { subscribe: 'authenticated', publish: 'subscribers', joinLeave: true },
      secret: { subscribe: 'token', publish: 'subscribers' },
      shout: { publish: 'authenticated' },
    },
  ),
);

const ok = { ok: true };

describe('user channel names', () => {
  it.each(['notifications:#ada', 'dm:#ada~bob', '#ada', 'news#42', 'dm:#a.b@example.com~c-d'])('%s is a channel name', (c) =>
    expect(isChannelName(c)).toBe(true),
  );
  it.each(['dm:#', 'dm:#ada~', 'dm:#~bob', 'dm:##ada', 'dm:#ada,bob', 'dm:#ada#bob', 'a:b#c~d e', '#ada:x'])('%s is not', (c) =>
    expect(isChannelName(c)).toBe(false),
  );
  it('lists the users after #', () => {
    expect(channelUsers('dm:#ada~bob')).toEqual(['ada', 'bob']);
    expect(channelUsers('news:#ada')).toEqual(['ada']);
    expect(channelUsers('news:ada')).toBeUndefined();
  });
});

describe('Policy.canSubscribe', () => {
  it('opens public namespaces to anyone, authenticated ones to users only', () => {
    expect(policy.canSubscribe(ANONYMOUS, 'news:today')).toEqual(ok);
    expect(policy.canSubscribe(ANONYMOUS, 'members:board')).toMatchObject({ ok: false, reason: expect.stringMatching(/authenticated/) });
    expect(policy.canSubscribe(user('ada'), 'members:board')).toEqual(ok);
  });

  it('opens a user channel only to its users, whatever the namespace says', () => {
    expect(policy.canSubscribe(user('ada'), 'news:#ada')).toEqual(ok);
    expect(policy.canSubscribe(user('bob'), 'news:#ada')).toMatchObject({ ok: false });
    expect(policy.canSubscribe(ANONYMOUS, 'news:#ada')).toMatchObject({ ok: false });
    expect(policy.canSubscribe(user('bob'), 'dm:#ada~bob')).toEqual(ok);
    expect(policy.canSubscribe(user('eve'), 'dm:#ada~bob')).toMatchObject({ ok: false });
    // Not even a channels claim or a subscription token opens another user's channel.
    expect(policy.canSubscribe(user('eve', ['news:#ada']), 'news:#ada')).toMatchObject({ ok: false });
    expect(policy.canSubscribe(user('eve'), 'news:#ada', grant('eve', 'news:#ada'))).toMatchObject({ ok: false });
  });

  it('needs a subscription token for this channel and this user in a token namespace', () => {
    expect(policy.canSubscribe(user('ada'), 'secret:plans')).toMatchObject({ ok: false, reason: expect.stringMatching(/subscription token/) });
    expect(policy.canSubscribe(user('ada'), 'secret:plans', grant('ada', 'secret:plans'))).toEqual(ok);
    expect(policy.canSubscribe(user('ada'), 'secret:plans', grant('ada', 'secret:other'))).toMatchObject({ ok: false });
    expect(policy.canSubscribe(user('ada'), 'secret:plans', grant('bob', 'secret:plans'))).toMatchObject({ ok: false });
    expect(policy.canSubscribe(ANONYMOUS, 'secret:plans', grant('', 'secret:plans'))).toEqual(ok);
  });

  it('lets the connection token grant channels the namespace would refuse', () => {
    expect(policy.canSubscribe(user('ada', ['secret:plans']), 'secret:plans')).toEqual(ok);
    expect(policy.canSubscribe({ ...ANONYMOUS, channels: ['members:board'] }, 'members:board')).toEqual(ok);
  });
});

describe('Policy.canPublish', () => {
  it('refuses client publishes where the namespace takes backends only, and anonymous ones everywhere', () => {
    expect(policy.canPublish(user('ada'), 'news:today', true)).toMatchObject({ ok: false, reason: expect.stringMatching(/backends only/) });
    expect(policy.canPublish(ANONYMOUS, 'shout:x', false)).toMatchObject({ ok: false });
    expect(policy.canPublish(user('ada'), 'shout:x', false)).toEqual(ok);
  });

  it('lets subscribers (or whoever may subscribe, over HTTP) publish in a subscribers namespace', () => {
    expect(policy.canPublish(user('ada'), 'chat:lobby', true)).toEqual(ok);
    expect(policy.canPublish(user('ada'), 'chat:lobby', false)).toEqual(ok);
    expect(policy.canPublish(user('ada'), 'secret:plans', true)).toEqual(ok);
    expect(policy.canPublish(user('ada'), 'secret:plans', false)).toMatchObject({ ok: false });
  });

  it('keeps user channels to their users for publishing too', () => {
    expect(policy.canPublish(user('eve'), 'chat:#ada~bob', true)).toMatchObject({ ok: false });
    expect(policy.canPublish(user('bob'), 'chat:#ada~bob', false)).toEqual(ok);
  });
});

describe('join/leave and presence', () => {
  it('announces identified users only, where the namespace wants it', () => {
    expect(policy.announcesJoinLeave('chat:lobby', user('ada'))).toBe(true);
    expect(policy.announcesJoinLeave('chat:lobby', ANONYMOUS)).toBe(false);
    expect(policy.announcesJoinLeave('news:x', user('ada'))).toBe(false);
  });
  it('reports whether every channel is public', () => {
    expect(new Namespaces().allPublic).toBe(true);
    expect(policy.namespaces.allPublic).toBe(false);
  });
});
