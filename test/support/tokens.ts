import { SignJWT } from 'jose';

/**
 * Connection or subscription tokens for tests, signed like a backend would (HS256 with the server's
 * secret). `issuedAt` (seconds) backdates the token, as one signed a while ago.
 */
export function signToken(
  secret: string,
  claims: Record<string, unknown> & { sub: string },
  options: { expiresIn?: number; alg?: string; issuedAt?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { sub, ...rest } = claims;
  const jwt = new SignJWT(rest).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setSubject(sub).setIssuedAt(options.issuedAt ?? now);
  if (options.expiresIn !== undefined) jwt.setExpirationTime(now + options.expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (`alg: none`, empty signature): what an attacker sends hoping the server skips the check. */
export function unsecuredToken(claims: Record<string, unknown>): string {
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ iat: Math.floor(Date.now() / 1000), ...claims })}.`;
}

/** The secret a test server verifies tokens with (its dev secret unless HUBBUB_TOKEN_SECRET was given). */
export function serverSecret(config: { devTokenSecret: string | undefined; tokenSecret?: string | undefined }): string {
  const secret = config.tokenSecret ?? config.devTokenSecret;
  if (!secret) throw new Error('this test server verifies tokens with a public key or JWKS, not a secret');
  return secret;
}
