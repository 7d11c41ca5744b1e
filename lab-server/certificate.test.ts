import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CERT_DIR_ENV,
  CERT_FILE,
  certificateDir,
  certificateProblem,
  KEY_FILE,
  loadCertificate,
} from './certificate.ts';
import { startTestLab } from './test-support/lab.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wslab-cert-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const DAY = 24 * 3600 * 1000;

describe('the lab certificate', () => {
  it('is made on first use for localhost, 127.0.0.1 and ::1 (subjectAltName), with the key readable by its owner only', async () => {
    const made = await loadCertificate(dir);
    expect(made.created).toBe(true);
    expect(made.reason).toBe('none was stored yet');
    expect(made.keyPath).toBe(join(dir, KEY_FILE));
    expect(readFileSync(made.certPath, 'utf8')).toBe(made.cert);
    const x509 = new X509Certificate(made.cert);
    expect(x509.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.checkHost('example.com')).toBeUndefined();
    expect(x509.ca).toBe(false);
    // Valid for a year, from (a minute before) now.
    expect(made.validTo.getTime() - Date.now()).toBeGreaterThan(364 * DAY);
    expect(made.validTo.getTime() - Date.now()).toBeLessThan(366 * DAY);
    if (process.platform !== 'win32') {
      expect(statSync(made.keyPath).mode & 0o777).toBe(0o600);
    }
  });

  it('is reused on later starts: same key, same fingerprint, nothing rewritten', async () => {
    const first = await loadCertificate(dir);
    const written = statSync(first.certPath).mtimeMs;
    const again = await loadCertificate(dir);
    expect(again.created).toBe(false);
    expect(again.fingerprint256).toBe(first.fingerprint256);
    expect(again.key).toBe(first.key);
    expect(statSync(again.certPath).mtimeMs).toBe(written);
  });

  it('is remade, saying so, once expired', async () => {
    const old = await loadCertificate(dir, new Date(Date.now() - 40 * DAY), 30);
    const now = await loadCertificate(dir);
    expect(now.created).toBe(true);
    expect(now.reason).toMatch(/^it expired on \d{4}-/);
    expect(now.fingerprint256).not.toBe(old.fingerprint256);
  });

  it('is remade when it ends within a day, so it cannot expire during a lesson', async () => {
    await loadCertificate(dir, new Date(Date.now() - 29.5 * DAY), 30);
    const now = await loadCertificate(dir);
    expect(now.reason).toMatch(/in less than a day/);
  });

  it('is remade when a file is corrupt, or the key does not match', async () => {
    const first = await loadCertificate(dir);
    writeFileSync(first.certPath, 'not a certificate');
    const fixed = await loadCertificate(dir);
    expect(fixed.created).toBe(true);
    expect(fixed.reason).toBe('the stored certificate could not be read');

    const other = await generate([{ name: 'commonName', value: 'x' }], { keyType: 'ec' });
    writeFileSync(join(dir, KEY_FILE), other.private);
    const again = await loadCertificate(dir);
    expect(again.reason).toBe('the stored key does not match it');

    writeFileSync(join(dir, KEY_FILE), 'garbage');
    expect((await loadCertificate(dir)).reason).toBe('the stored key could not be read');
  });

  it('is remade when it does not cover every name', async () => {
    const narrow = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    expect(certificateProblem(narrow.private, narrow.cert, new Date())).toBe(
      'it does not cover 127.0.0.1',
    );
    writeFileSync(join(dir, KEY_FILE), narrow.private);
    writeFileSync(join(dir, CERT_FILE), narrow.cert);
    const remade = await loadCertificate(dir);
    expect(remade.reason).toBe('it does not cover 127.0.0.1');
  });

  it('lives in --cert-dir, else $WEBSOCKET_LAB_CERT_DIR, else the user config folder (never the repository)', () => {
    expect(certificateDir('/x/flag', { [CERT_DIR_ENV]: '/x/env' })).toBe('/x/flag');
    expect(certificateDir(undefined, { [CERT_DIR_ENV]: '/x/env' })).toBe('/x/env');
    if (process.platform === 'linux') {
      // env-paths reads the process's own environment.
      const saved = process.env.XDG_CONFIG_HOME;
      process.env.XDG_CONFIG_HOME = '/x/xdg';
      try {
        expect(certificateDir(undefined, {})).toBe('/x/xdg/websocket-lab/tls');
      } finally {
        if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
        else process.env.XDG_CONFIG_HOME = saved;
      }
    }
    const fallback = certificateDir(undefined, {});
    expect(fallback.startsWith(homedir()) || fallback.includes('websocket-lab')).toBe(true);
    expect(fallback).not.toContain(process.cwd());
  });

  it('is the one a restarted lab server presents', async () => {
    for (let start = 0; start < 2; start++) {
      const certificate = await loadCertificate(dir);
      expect(certificate.created).toBe(start === 0);
      const t = await startTestLab({
        tls: { port: 0, key: certificate.key, cert: certificate.cert },
      });
      try {
        const ws = new WebSocket(`wss://127.0.0.1:${t.lab.tlsPort}/echo`, { ca: certificate.cert });
        const presented = await new Promise<string>((resolve, reject) => {
          ws.once('upgrade', (res) => {
            const socket = res.socket as import('node:tls').TLSSocket;
            resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
          });
          ws.once('error', reject);
        });
        expect(presented).toBe(certificate.fingerprint256);
        ws.close();
      } finally {
        await t.close();
      }
    }
  });
});
