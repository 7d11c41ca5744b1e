/**
 * The lab server's TLS certificate: self-signed, for the names a learner types to reach the lab
 * on this machine (localhost, 127.0.0.1, ::1), made on first start and kept in the user's config
 * folder, never in the repository, so it survives `git clean` and a trusted copy stays trusted.
 *
 * A browser checks the name it connected to against the certificate's subjectAltName entries
 * (RFC 9110 §4.3.4, RFC 6125 §6), not the subject's common name, so all three names go there.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { generate } from 'selfsigned';

/** The names the certificate must cover. */
export const CERTIFICATE_NAMES = {
  dns: ['localhost'],
  ip: ['127.0.0.1', '::1'],
} as const;

/** Environment variable that moves the certificate folder (tests use a temporary one). */
export const CERT_DIR_ENV = 'WEBSOCKET_LAB_CERT_DIR';

/** How long a new certificate is valid: a year, within the 398 days browsers accept. */
const VALID_DAYS = 365;
/** A certificate this close to its end is replaced at start, so it cannot expire mid-lesson. */
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export const KEY_FILE = 'localhost-key.pem';
export const CERT_FILE = 'localhost-cert.pem';

export interface LabCertificate {
  readonly key: string;
  readonly cert: string;
  readonly dir: string;
  readonly keyPath: string;
  readonly certPath: string;
  /** SHA-256 fingerprint, as browsers show it in their certificate viewer. */
  readonly fingerprint256: string;
  readonly validTo: Date;
  /** True when this start made the certificate; `reason` then says why. */
  readonly created: boolean;
  readonly reason: string;
}

/**
 * Where the certificate lives: `--cert-dir`, else $WEBSOCKET_LAB_CERT_DIR, else the platform's
 * config folder ($XDG_CONFIG_HOME or ~/.config/websocket-lab on Linux, ~/Library/Preferences on
 * macOS, %APPDATA% on Windows).
 */
export function certificateDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[CERT_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(envPaths('websocket-lab', { suffix: '' }).config, 'tls');
}

/**
 * Why the stored certificate cannot be used, or null when it can: it must parse, match its key,
 * cover every name and be valid now and for at least another day.
 */
export function certificateProblem(key: string, cert: string, now: Date): string | null {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return 'the stored certificate could not be read';
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) return 'the stored key does not match it';
  } catch {
    return 'the stored key could not be read';
  }
  const validTo = new Date(x509.validTo);
  if (validTo.getTime() <= now.getTime()) {
    return `it expired on ${validTo.toISOString()}`;
  }
  if (validTo.getTime() - now.getTime() < RENEW_BEFORE_MS) {
    return `it expires on ${validTo.toISOString()}, in less than a day`;
  }
  if (new Date(x509.validFrom).getTime() > now.getTime()) return 'it is not valid yet';
  for (const name of CERTIFICATE_NAMES.dns) {
    if (x509.checkHost(name, { subject: 'never' }) === undefined)
      return `it does not cover ${name}`;
  }
  for (const ip of CERTIFICATE_NAMES.ip) {
    if (x509.checkIP(ip) === undefined) return `it does not cover ${ip}`;
  }
  return null;
}

/** Makes a new key and self-signed certificate for CERTIFICATE_NAMES, valid from now. */
export async function makeCertificate(
  now: Date,
  validDays = VALID_DAYS,
): Promise<{ key: string; cert: string }> {
  const notAfter = new Date(now.getTime() + validDays * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'WebSocket Lab (localhost)' }], {
    // P-256 ECDSA: made in milliseconds (RSA 2048 takes a noticeable moment) and accepted by
    // every browser and by Node's TLS.
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...CERTIFICATE_NAMES.dns.map((value) => ({ type: 2 as const, value })),
          ...CERTIFICATE_NAMES.ip.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * The certificate in `dir`: the stored one when it is still good, else a new one (written with
 * the key readable by this user only, 0600).
 */
export async function loadCertificate(
  dir: string,
  now: Date = new Date(),
  validDays = VALID_DAYS,
): Promise<LabCertificate> {
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);
  let reason = 'none was stored yet';
  try {
    const key = readFileSync(keyPath, 'utf8');
    const cert = readFileSync(certPath, 'utf8');
    const problem = certificateProblem(key, cert, now);
    if (problem === null) return describe(key, cert, dir, false, '');
    reason = problem;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') reason = `the stored files could not be read (${code ?? 'error'})`;
  }
  const { key, cert } = await makeCertificate(now, validDays);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written beside, then renamed: a reader never sees half a key, and a crash leaves the old pair.
  writeFileSync(`${keyPath}.tmp`, key, { mode: 0o600 });
  chmodSync(`${keyPath}.tmp`, 0o600);
  writeFileSync(`${certPath}.tmp`, cert, { mode: 0o644 });
  renameSync(`${keyPath}.tmp`, keyPath);
  renameSync(`${certPath}.tmp`, certPath);
  return describe(key, cert, dir, true, reason);
}

function describe(
  key: string,
  cert: string,
  dir: string,
  created: boolean,
  reason: string,
): LabCertificate {
  const x509 = new X509Certificate(cert);
  return {
    key,
    cert,
    dir,
    keyPath: join(dir, KEY_FILE),
    certPath: join(dir, CERT_FILE),
    fingerprint256: x509.fingerprint256,
    validTo: new Date(x509.validTo),
    created,
    reason,
  };
}
