import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface SelfSignedOptions {
  /** DNS names and IP addresses the certificate is for (its SAN); the first DNS name is the CN. */
  hosts?: string[];
  /** Validity in days from now. Default 365. */
  days?: number;
}

export interface SelfSigned {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#8, unencrypted). */
  key: string;
  /** SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it: upper-case hex pairs joined by colons. */
  fingerprint: string;
}

export const DEFAULT_CERT_HOSTS = ['localhost', '127.0.0.1'];

/** The SHA-256 fingerprint of a PEM certificate (the first one of a chain), colon-separated upper-case hex. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A self-signed server certificate (ECDSA P-256, SHA-256) for `syncline cert create`. */
export async function createSelfSigned(opts: SelfSignedOptions = {}): Promise<SelfSigned> {
  const hosts = opts.hosts && opts.hosts.length > 0 ? opts.hosts : DEFAULT_CERT_HOSTS;
  const days = opts.days ?? 365;
  if (!Number.isInteger(days) || days < 1) throw new RangeError('days must be a positive integer');
  const cn = hosts.find((h) => isIP(h) === 0) ?? hosts[0]!;
  const notBeforeDate = new Date(Date.now() - 60_000);
  const generated = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) === 0 ? { type: 2 as const, value: h } : { type: 7 as const, ip: h })) },
    ],
  });
  return { cert: generated.cert, key: generated.private, fingerprint: certificateFingerprint(generated.cert) };
}
