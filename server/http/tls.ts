import { readFileSync } from 'node:fs';

// HTTPS without a proxy in front: the certificate and key are PEM files, read at start and again on
// each reload (SIGHUP), so a renewed certificate is served without dropping a connection.

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export class TlsError extends Error {
  override readonly name = 'TlsError';
}

/** Reads both files; undefined when TLS is off. A file that cannot be read names its setting. */
export function readTlsFiles(config: { tlsCert?: string | undefined; tlsKey?: string | undefined }): TlsFiles | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  return { cert: readPem(config.tlsCert, '--tls-cert'), key: readPem(config.tlsKey, '--tls-key') };
}

function readPem(path: string, flag: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new TlsError(`cannot read ${flag} ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN ')) throw new TlsError(`${flag} ${path} is not a PEM file`);
  return pem;
}
