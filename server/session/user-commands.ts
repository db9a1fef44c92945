import type { UserCommand } from '../cluster/cluster.js';
import type { Sessions } from './sessions.js';

/**
 * A user command from the server API, applied to this node's live connections of the user. A
 * disconnect also revokes the user's tokens issued until now on this node, so the client cannot
 * simply come back with the token it holds: its backend has to sign a new one.
 */
export async function applyUserCommand(sessions: Sessions, command: UserCommand): Promise<number> {
  if (command.kind === 'disconnect') sessions.revoke(command.user);
  let reached = 0;
  for (const session of sessions.ofUser(command.user)) {
    const connection = session.connection;
    if (!connection) continue;
    if (command.kind === 'disconnect') {
      connection.disconnect('disconnected_by_server');
      reached += 1;
    } else if (command.kind === 'subscribe') {
      if (await connection.subscribe(command.channel)) reached += 1;
    } else if (connection.unsubscribe(command.channel)) {
      reached += 1;
    }
  }
  return reached;
}
