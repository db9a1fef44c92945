import { channelNamespace, channelUsers } from '../../contract/index.js';
import type { ConnectionIdentity, SubscriptionGrant } from '../auth/tokens.js';
import type { Namespaces } from './namespaces.js';

// Who may subscribe to and publish on which channel. One object answers for every transport and
// every door into publishing; it only decides, the session turns a refusal into a contract error.

export type Decision = { ok: true } | { ok: false; reason: string };

const ALLOW: Decision = { ok: true };
const deny = (reason: string): Decision => ({ ok: false, reason });

export class Policy {
  constructor(readonly namespaces: Namespaces) {}

  /**
   * A user channel (`#ada`) is open only to its users, whatever its namespace says; a channel the
   * connection token lists, or a valid subscription token for the channel, is a grant from the
   * backend; otherwise the namespace's `subscribe` rule decides.
   */
  canSubscribe(identity: ConnectionIdentity, channel: string, grant?: SubscriptionGrant): Decision {
    // An admin's live tail may watch the one channel its token names, user channels included, and nothing else.
    if (identity.adminTail) return identity.channels.includes(channel) ? ALLOW : deny(`an admin tail token watches ${identity.channels.join(', ')} only`);
    const users = channelUsers(channel);
    if (users) {
      if (identity.user === null) return deny(`${channel} is a user channel: connect with a token of one of its users`);
      if (!users.includes(identity.user)) return deny(`${channel} is a user channel of other users`);
      return ALLOW;
    }
    if (identity.channels.includes(channel)) return ALLOW;
    if (grant) return this.checkGrant(identity, channel, grant);
    const rule = this.namespaces.of(channelNamespace(channel)).subscribe;
    if (rule === 'anyone') return ALLOW;
    if (rule === 'authenticated') {
      return identity.user === null ? deny(`subscribing to ${channel} needs an authenticated connection`) : ALLOW;
    }
    return deny(`subscribing to ${channel} needs a subscription token for it`);
  }

  /**
   * Client publishes. `subscribed`: the connection holds a live subscription to the channel
   * (WebSocket); the HTTP door has none and passes false, so `subscribers` then means "may subscribe".
   */
  canPublish(identity: ConnectionIdentity, channel: string, subscribed: boolean): Decision {
    if (identity.adminTail) return deny('an admin tail token only watches: publish from the dashboard');
    const rule = this.namespaces.of(channelNamespace(channel)).publish;
    if (rule === 'nobody') return deny(`clients may not publish to ${channel}: its namespace takes publications from backends only`);
    if (identity.user === null) return deny(`publishing to ${channel} needs an authenticated connection`);
    const users = channelUsers(channel);
    if (users && !users.includes(identity.user)) return deny(`${channel} is a user channel of other users`);
    if (rule === 'authenticated' || subscribed) return ALLOW;
    const may = this.canSubscribe(identity, channel);
    return may.ok ? ALLOW : deny(`publishing to ${channel} is for its subscribers: ${may.reason}`);
  }

  presenceListed(channel: string): boolean {
    return this.namespaces.of(channelNamespace(channel)).presence;
  }

  /** Join/leave events are for identified users only: anonymous churn must not fill history. */
  announcesJoinLeave(channel: string, identity: ConnectionIdentity): boolean {
    return identity.user !== null && !identity.adminTail && this.namespaces.of(channelNamespace(channel)).joinLeave;
  }

  private checkGrant(identity: ConnectionIdentity, channel: string, grant: SubscriptionGrant): Decision {
    if (grant.channel !== channel) return deny(`the subscription token is for ${grant.channel}, not ${channel}`);
    if (grant.user !== (identity.user ?? '')) return deny('the subscription token is for another user');
    return ALLOW;
  }
}
