// Starts the app server (target/debug/server, built by end2end/run.sh) with its own data directory,
// the embedded media server and the demo accounts; stops and restarts it.
import { spawn, ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
export const MEDIA_SECRET = 'e2e-media-secret';

export class AppServer {
  private child?: ChildProcess;
  readonly url: string;
  /** The embedded media server's REST API: on its own loopback listener, never the public one. */
  readonly mediaApiUrl: string;

  constructor(
    readonly port: number,
    readonly https = false,
    readonly dataDir = mkdtempSync(join(tmpdir(), 'app-e2e-')),
  ) {
    this.url = `${https ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.mediaApiUrl = `http://127.0.0.1:${port + 1}`;
  }

  async start(): Promise<void> {
    const bin = process.env.APP_SERVER ?? join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'server');
    this.child = spawn(
      bin,
      ['--listen', `127.0.0.1:${this.port}`, '--media-api-listen', `127.0.0.1:${this.port + 1}`, '--data-dir', this.dataDir, '--site-root', join(root, 'target', 'site'), '--demo']
        .concat(this.https ? ['--https'] : []),
      { env: { ...process.env, MEDIA_SECRET, RUST_LOG: process.env.RUST_LOG ?? 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`server exited with ${this.child.exitCode}`);
      if (await this.listening()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('server did not start');
  }

  /** Whether the port accepts connections (no HTTP, so that a self-signed certificate does not matter). */
  private listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  /** Kills the server at once (SIGKILL): no goodbye to anyone, as when a machine dies. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** GET on the embedded media server's REST API (what an operator would see). */
  async mediaApi(path: string): Promise<number> {
    const auth = Buffer.from(`OPENVIDUAPP:${MEDIA_SECRET}`).toString('base64');
    const res = await fetch(`${this.mediaApiUrl}/openvidu/api${path}`, { headers: { Authorization: `Basic ${auth}` } });
    return res.status;
  }

  /** The JSON body of a GET on the embedded media server's REST API. */
  async mediaApiJson(path: string): Promise<any> {
    const auth = Buffer.from(`OPENVIDUAPP:${MEDIA_SECRET}`).toString('base64');
    const res = await fetch(`${this.mediaApiUrl}/openvidu/api${path}`, { headers: { Authorization: `Basic ${auth}` } });
    return res.json();
  }
}
