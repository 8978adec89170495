// Starts the real `mediaserver` binary for one test (file), on free loopback ports, and stops it.
//
// Every test gets its own server process: `--listen 127.0.0.1:<free port>`, `--udp 127.0.0.1:0`,
// `--public-ip 127.0.0.1`, a random secret, and optionally TLS with a throwaway self-signed
// certificate (openvidu-browser 2.22 only ever connects with wss://).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http_ from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
export const INTEROP_DIR = path.resolve(here, '..');
export const REPO_ROOT = path.resolve(INTEROP_DIR, '../../..');

/** The server binary: $MEDIASERVER_BIN, else the workspace's target/debug/mediaserver. */
export function serverBinary() {
  const bin = process.env.MEDIASERVER_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target'), 'debug', 'mediaserver');
  if (!fs.existsSync(bin)) {
    throw new Error(`media server binary not found at ${bin}; build it with 'cargo build -p mediaserver --bin mediaserver' or set MEDIASERVER_BIN`);
  }
  return bin;
}

/** A free TCP port on 127.0.0.1 (bound then released; the server binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let tlsCache = null;
/** A throwaway self-signed certificate for 127.0.0.1/localhost, made once per process in a temp dir. */
export function selfSignedCert() {
  if (tlsCache) return tlsCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  tlsCache = { dir, cert, key, certPem: fs.readFileSync(cert, 'utf8') };
  return tlsCache;
}

let helpCache = null;
/** `mediaserver --help`, to adapt to optional flags (e.g. a shorter reconnect grace). */
export function serverHelp() {
  if (helpCache === null) {
    try {
      helpCache = execFileSync(serverBinary(), ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      helpCache = String(e.stdout || '') + String(e.stderr || '');
    }
  }
  return helpCache;
}

/** The flag that shortens the reconnect grace (networkDisconnect eviction), if the binary has one. */
export function graceFlag() {
  const m = serverHelp().match(/--([a-z0-9-]*grace[a-z0-9-]*)/);
  return m ? `--${m[1]}` : null;
}

/** Waits for `cond()` to return a truthy value, polling, until `timeoutMs`; returns that value. */
export async function waitFor(cond, { timeoutMs = 20000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function tcpProbe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts a server. Options: `tls` (bool), `graceSeconds` (passed when the binary has a grace flag),
 * `args` (extra flags). Returns { url, wsUrl, port, secret, tls, ca, log(), stop() }.
 */
export async function startServer({ tls = false, graceSeconds = null, args = [] } = {}) {
  const bin = serverBinary();
  const port = await freePort();
  const secret = 'interop-' + randomBytes(8).toString('hex');
  const argv = ['--secret', secret, '--listen', `127.0.0.1:${port}`, '--udp', '127.0.0.1:0', '--public-ip', '127.0.0.1'];
  let cert = null;
  if (tls) {
    cert = selfSignedCert();
    argv.push('--tls-cert', cert.cert, '--tls-key', cert.key);
  }
  if (graceSeconds !== null) {
    const flag = graceFlag();
    if (flag) argv.push(flag, String(graceSeconds));
  }
  argv.push(...args);

  const lines = [];
  // Hermetic: the server also reads OPENVIDU_* / MEDIASERVER_* variables; only the flags count here.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENVIDU_|MEDIASERVER_)/.test(k)));
  env.RUST_LOG = process.env.RUST_LOG || 'info';
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const collect = (stream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (lines.length > 5000) lines.splice(0, 1000);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);

  const log = () => lines.join('\n');
  const scheme = tls ? 'https' : 'http';
  const server = {
    url: `${scheme}://127.0.0.1:${port}`,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    port,
    secret,
    tls,
    ca: cert ? cert.certPem : null,
    argv,
    log,
    /** The last `n` log lines, for failure messages. */
    tail: (n = 40) => lines.slice(-n).join('\n'),
    exited: () => exited,
    async stop() {
      if (exited) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const r = await exitPromise;
      clearTimeout(t);
      return r;
    },
  };

  try {
    await waitFor(async () => {
      if (exited) throw Object.assign(new Error('exited'), { fatal: true });
      return tcpProbe(port);
    }, { timeoutMs: 30000, intervalMs: 100, what: `the server to listen on 127.0.0.1:${port}` });
  } catch (e) {
    await server.stop();
    throw new Error(`media server did not start (${bin} ${argv.join(' ').replace(secret, '<secret>')}): ${exited ? `exit ${JSON.stringify(exited)}` : e.message}\n${server.tail()}`);
  }
  return server;
}

/**
 * A raw REST call: { status, headers, text, json } (json undefined when the body is not JSON).
 * `auth`: secret (default the server's), or false for no Authorization header, or a full header value.
 */
export function rest(server, method, urlPath, { body, auth, headers = {}, rawBody } = {}) {
  const h = { ...headers };
  if (auth !== false) {
    const secret = auth === undefined ? server.secret : auth;
    h.Authorization = 'Basic ' + Buffer.from('OPENVIDUAPP:' + secret).toString('base64');
  }
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    if (!h['Content-Type']) h['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  const u = new URL(server.url + urlPath);
  return new Promise((resolve, reject) => {
    const mod = u.protocol === 'https:' ? https : http_;
    const req = mod.request(u, { method, headers: h, ca: server.ca || undefined }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 15 s`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}


/** "METHOD path -> status body" for assertion messages. */
export function describeResponse(method, urlPath, r) {
  return `${method} ${urlPath} -> ${r.status} ${r.text.slice(0, 500)}`;
}
