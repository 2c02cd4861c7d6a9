/**
 * `sockwarden serve --tls-cert --tls-key`: https and wss on one port, with certificates made here by
 * openssl, and the certificate replaced on SIGHUP while a wss connection stays open.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { connect, type TestClient } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const redis = useRedis();

const BIN = join(import.meta.dirname, '../../bin/sockwarden.js');
const children: ChildProcess[] = [];
const clients: TestClient[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A self-signed certificate for 127.0.0.1 written to `dir`, as `<dir>/cert.pem` and `<dir>/key.pem`. */
function makeCertificate(dir: string): { cert: string; key: string; pem: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockwarden-tls-'));
  dirs.push(dir);
  return dir;
}

/** Starts `sockwarden serve` and resolves with the address of its `listening on` line. */
async function serve(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--insecure', ...args]);
  children.push(child);
  let logs = '';
  child.stderr.on('data', (d) => {
    logs += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const match = /^listening on (\S+)$/m.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${logs}`)));
  });
  return { child, base, exited, logs: () => logs };
}

/** An https request trusting `ca`; resolves with the status and body. */
function httpsRequest(
  url: string,
  ca: string,
  init: { method?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, method: init.method ?? 'GET', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is shown, verified against `ca`. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

function fingerprintOf(pem: string): string {
  return execFileSync('/usr/bin/openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem })
    .toString()
    .trim()
    .split('=')[1] as string;
}

describe('serve over TLS', () => {
  it('serves https and wss on one port and reloads the certificate on SIGHUP without dropping sockets', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir);
    const { child, base, logs } = await serve(['--tls-cert', first.cert, '--tls-key', first.key]);
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(base).port);
    expect(await httpsRequest(`${base}/healthz`, first.pem)).toEqual({
      status: 200,
      body: '{"status":"ok"}',
    });
    const client = await connect(`${base.replace('https', 'wss')}/ws`, { user: 'alice' }, { ca: first.pem });
    clients.push(client);
    expect(await servedFingerprint(port, first.pem)).toBe(fingerprintOf(first.pem));

    // A renewal: new files in place of the old ones, then SIGHUP.
    const second = makeCertificate(dir);
    expect(fingerprintOf(second.pem)).not.toBe(fingerprintOf(first.pem));
    child.kill('SIGHUP');
    await until(() => logs().includes('TLS certificate reloaded'), { what: 'the reload log line' });
    expect(logs()).toContain(fingerprintOf(second.pem));
    expect(await servedFingerprint(port, second.pem)).toBe(fingerprintOf(second.pem));

    // The connection made under the old certificate is still open and still delivered to.
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    const published = await httpsRequest(`${base}/api/publish`, second.pem, {
      method: 'POST',
      body: JSON.stringify({ user: 'alice', data: 'still here' }),
    });
    expect(JSON.parse(published.body)).toEqual({ delivered: 1, queued: 0 });
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'still here' });
  });

  it('keeps the current certificate and says so when the new files do not load', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir);
    const { child, base, logs } = await serve(['--tls-cert', first.cert, '--tls-key', first.key]);
    const port = Number(new URL(base).port);
    // A half-done renewal: a new key next to the old certificate.
    const other = makeCertificate(tempDir());
    execFileSync('cp', [other.key, first.key]);
    child.kill('SIGHUP');
    await until(() => logs().includes('TLS certificate reload failed'), { what: 'the failure log line' });
    expect(await servedFingerprint(port, first.pem)).toBe(fingerprintOf(first.pem));
    expect((await httpsRequest(`${base}/healthz`, first.pem)).status).toBe(200);
  });

  it('survives SIGHUP without TLS and logs that there is nothing to reload', async () => {
    const { child, base, logs } = await serve([]);
    expect(base).toMatch(/^http:\/\//);
    child.kill('SIGHUP');
    await until(() => logs().includes('nothing to reload'), { what: 'the SIGHUP log line' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('marks the dashboard cookie Secure when signed in over TLS', async () => {
    const dir = tempDir();
    const cert = makeCertificate(dir);
    const key = 'a-strong-api-key-0123456789';
    const { base } = await serve([
      '--tls-cert',
      cert.cert,
      '--tls-key',
      cert.key,
      '--insecure',
      '--api-key',
      key,
    ]);
    const setCookie = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${base}/dashboard`,
        { ca: cert.pem, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie'] ?? ''));
        },
      );
      req.on('error', reject);
      req.end(new URLSearchParams({ key }).toString());
    });
    expect(setCookie).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('exits 2 naming the flags when only one of --tls-cert and --tls-key is given, or a file is bad', async () => {
    const dir = tempDir();
    const { cert, key } = makeCertificate(dir);
    const onlyCert = await run(['serve', '--insecure', '--tls-cert', cert]);
    expect(onlyCert.code).toBe(2);
    expect(onlyCert.stderr).toContain('--tls-cert');
    expect(onlyCert.stderr).toContain('--tls-key');
    const onlyKey = await run(['serve', '--insecure', '--tls-key', key]);
    expect(onlyKey.code).toBe(2);
    expect(onlyKey.stderr).toContain('needs both --tls-cert and --tls-key');
    const swapped = await run(['serve', '--insecure', '--tls-cert', key, '--tls-key', cert]);
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain('--tls-cert, --tls-key:');
  });
});

describe.runIf(redis.available)('serve over TLS with --workers', () => {
  it('passes SIGHUP on to every worker, each of which reloads its own certificate', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir);
    const { child, base, exited, logs } = await serve([
      '--workers',
      '2',
      '--redis',
      redis.url,
      '--redis-prefix',
      'tls:',
      '--shutdown-delay',
      '0',
      '--tls-cert',
      first.cert,
      '--tls-key',
      first.key,
    ]);
    expect(base).toMatch(/^https:\/\//);
    const port = Number(new URL(base).port);
    const second = makeCertificate(dir);
    child.kill('SIGHUP');
    await until(() => logs().split('TLS certificate reloaded').length - 1 === 2, {
      what: 'both workers to log their reload',
    });
    // The primary hands connections to its workers in turn: several reach both of them.
    for (let i = 0; i < 6; i++)
      expect(await servedFingerprint(port, second.pem)).toBe(fingerprintOf(second.pem));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
