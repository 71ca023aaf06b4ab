/** Self-signed certificates for TLS tests (RTMPS), made by openssl as README's RTMPS section shows. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `<cn>.crt` and `<cn>.key` (PEM, 1 day) into `dir`; returns their paths and contents. */
export function makeCertificate(
  dir: string,
  cn: string,
): { cert: string; key: string; certFile: string; keyFile: string } {
  const keyFile = join(dir, `${cn}.key`);
  const certFile = join(dir, `${cn}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${cn}`].concat([
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]),
    { stdio: 'ignore', timeout: 30_000 },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}
