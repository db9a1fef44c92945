import { SignJWT } from 'jose';
import { ConnectionClaims } from '../../contract/index.js';
import { CommandError, type CommandResult, commandConfig, parseCommand } from './command.js';

// `hubbub token --user ID`: a connection token for development and scripts, signed (HS256) with
// the server's own token secret, so a test page or a curl can connect as a user without a
// backend. Production tokens come from your backend (docs/security.md, "Minting tokens").

export const TOKEN_HELP = `Usage: hubbub token --user ID [--ttl 1h] [--channels a,b] [--info JSON]

Prints a connection token (a JWT, HS256) for user ID, signed with the token secret the server
uses: --token-secret, HUBBUB_TOKEN_SECRET or tokenSecret in the config file (--config or
HUBBUB_CONFIG), with its issuer and audience. A development server (no token key, no config
file) takes tokens signed with its dev secret, which comes from its HUBBUB_API_KEY: set the same
key here.

  --user ID             the token's sub
  --ttl DURATION        lifetime: 90s, 15m, 1h, 2d (default 1h)
  --channels a,b        channels the server subscribes the connection to
  --info JSON           public JSON about the user (presence, publisher)
  --token-secret S      the secret (default HUBBUB_TOKEN_SECRET)
  --config FILE         read the secret from this config file`;

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export function parseTtl(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * UNIT_S[m[2] || 's']! : 0;
  if (seconds <= 0 || seconds > 365 * 86_400) throw new CommandError(`--ttl ${text}: a duration like 90s, 15m, 1h or 2d, at most a year`, 2);
  return seconds;
}

/** The secret and claims the server checks, from the same settings it reads. */
function signingSetup(flags: { config?: string | undefined; 'token-secret'?: string | undefined }) {
  const argv = [...(flags.config === undefined ? [] : ['--config', flags.config]), ...(flags['token-secret'] === undefined ? [] : ['--token-secret', flags['token-secret']])];
  const config = commandConfig(argv);
  // A generated API key makes the dev secret random: no server would accept what it signs.
  const secret = config.tokenSecret ?? (config.apiKeyGenerated ? undefined : config.devTokenSecret);
  if (secret === undefined) {
    throw new CommandError('no token secret: set --token-secret or HUBBUB_TOKEN_SECRET (or, for a development server, its HUBBUB_API_KEY); with a public key or JWKS your backend signs tokens', 2);
  }
  return { secret, issuer: config.tokenIssuer, audience: config.tokenAudience };
}

export async function token(args: readonly string[]): Promise<CommandResult> {
  const { values, positionals, info } = parseCommand(
    args,
    {
      user: { type: 'string' },
      ttl: { type: 'string' },
      channels: { type: 'string' },
      info: { type: 'string' },
      'token-secret': { type: 'string' },
      config: { type: 'string' },
    },
    TOKEN_HELP,
  );
  if (info !== undefined) {
    console.log(info);
    return 0;
  }
  if (values.user === undefined || positionals.length > 0) throw new CommandError(`token takes --user ID\n\n${TOKEN_HELP}`, 2);
  const ttl = parseTtl(values.ttl ?? '1h');
  let userInfo: unknown;
  if (values.info !== undefined) {
    try {
      userInfo = JSON.parse(values.info);
    } catch {
      throw new CommandError('--info is not JSON', 2);
    }
  }
  const channels = values.channels?.split(',').map((c) => c.trim()).filter((c) => c !== '');
  const claims = ConnectionClaims.safeParse({ sub: values.user, info: userInfo, channels });
  if (!claims.success) {
    throw new CommandError(`bad claims: ${claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 2);
  }
  const { secret, issuer, audience } = signingSetup(values);
  const { sub, ...rest } = claims.data;
  let jwt = new SignJWT(rest).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
  if (issuer !== undefined) jwt = jwt.setIssuer(issuer);
  if (audience !== undefined) jwt = jwt.setAudience(audience);
  console.log(await jwt.sign(new TextEncoder().encode(secret)));
  return 0;
}
