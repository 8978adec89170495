// Debian's headless Chromium driven by playwright-core (never a downloaded browser), with fake
// camera and microphone, and a tiny static server for the test page and the openvidu-browser bundles.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { INTEROP_DIR, waitFor } from './server.js';
import { within } from './util.js';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

// Flags from shared/design/ARCHITECTURE.md. Playwright adds --headless and a fresh --user-data-dir
// (a new temporary profile per launch); --autoplay-policy lets subscriber videos play unattended.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

const FILES = {
  '/': ['page/index.html', 'text/html'],
  '/index.html': ['page/index.html', 'text/html'],
  '/harness.js': ['page/harness.js', 'text/javascript'],
  '/openvidu-browser-2.22.0.min.js': ['node_modules/ovbrowser22/static/js/openvidu-browser-2.22.0.min.js', 'text/javascript'],
  '/openvidu-browser-2.32.2.min.js': ['node_modules/ovbrowser32/static/js/openvidu-browser-2.32.2.min.js', 'text/javascript'],
};

/** Serves the test page on 127.0.0.1 (a secure context, so getUserMedia works over plain HTTP). */
export function startPageServer() {
  const srv = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    const f = FILES[p];
    if (!f) {
      res.writeHead(p === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    fs.createReadStream(path.join(INTEROP_DIR, f[0])).pipe(res);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(r)) });
    });
  });
}

const LAUNCH_ATTEMPTS = 3;

/**
 * Starts Chromium, again if it dies while starting: Debian's Chromium has crashed (SIGSEGV) during its
 * own start, before opening any page, in one CI run. That says nothing about the media server, so the
 * launch is tried up to LAUNCH_ATTEMPTS times, each retry said on stderr; nothing after it is retried.
 */
export async function launchBrowser({ ignoreCertificateErrors = false } = {}) {
  const args = [...CHROMIUM_ARGS];
  if (ignoreCertificateErrors) args.push('--ignore-certificate-errors');
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    } catch (e) {
      if (attempt >= LAUNCH_ATTEMPTS) throw e;
      const reason = String(e?.message ?? e).split('\n')[0];
      console.error(`Chromium did not start (attempt ${attempt} of ${LAUNCH_ATTEMPTS}): ${reason}; starting it again`);
    }
  }
}

/**
 * A participant: one browser context with one page running the harness for `version`.
 * Methods forward to window.H in the page; `events(filter)` returns recorded library events.
 */
export async function openParticipant(browser, pageServer, version, name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => {
    const text = m.text();
    consoleLines.push(`[${name}] ${m.type()}: ${text.length > 400 ? text.slice(0, 400) + '…' : text}`);
    if (consoleLines.length > 300) consoleLines.shift();
  });
  page.on('pageerror', (e) => consoleLines.push(`[${name}] pageerror: ${e.message}`));
  await page.goto(`${pageServer.url}/?v=${version}`);
  await page.waitForFunction(() => window.H && window.H.ready && typeof window.OpenVidu === 'function', null, { timeout: 15000 });
  // Every call into the page has a deadline (e.g. connect() stays pending while the library retries).
  const h = (method, ...args) => within(page.evaluate(([m, a]) => window.H[m](...a), [method, args]), 45000, `${name}: H.${method}()`);
  const p = {
    name,
    page,
    context,
    consoleLines,
    connectionId: null,
    streamId: null,
    closed: false,
    async connect(token, clientData = JSON.stringify({ clientData: name })) {
      const r = await h('connect', token, clientData);
      if (r.ok) p.connectionId = r.connectionId;
      return r;
    },
    async publish(opts) {
      const r = await h('publish', opts || {});
      if (r.ok) p.streamId = r.streamId;
      return r;
    },
    unpublish: () => h('unpublish'),
    subscribe: (streamId) => h('subscribe', streamId),
    signal: (to, type, data) => h('signal', to, type, data),
    forceDisconnect: (connectionId) => h('forceDisconnect', connectionId),
    forceUnpublish: (streamId) => h('forceUnpublish', streamId),
    disconnect: () => h('disconnect'),
    publishAudio: (on) => h('publishAudio', on),
    publishVideo: (on) => h('publishVideo', on),
    reconnectSocket: () => h('reconnectSocket'),
    unsubscribe: (streamId) => h('unsubscribe', streamId),
    rawRequest: (method, params) => h('rawRequest', method, params),
    chatter: (on) => h('chatter', on),
    publisherStats: () => h('publisherStats'),
    setLayerActive: (index, active) => h('setLayerActive', index, active),
    stats: (streamId) => h('stats', streamId),
    setAutoSubscribe: (on) => page.evaluate((v) => { window.H.autoSubscribe = v; }, on),
    async events(filter = {}) {
      const all = await page.evaluate(() => window.H.events);
      return all.filter((e) => Object.entries(filter).every(([k, v]) => e[k] === v));
    },
    /** Waits until an event matching `filter` was recorded; returns it. */
    async waitEvent(filter, timeoutMs = 20000) {
      return waitFor(async () => (await p.events(filter))[0], { timeoutMs, intervalMs: 200, what: `${name}: event ${JSON.stringify(filter)}` });
    },
    /** Cuts the page's network (DevTools offline emulation): its sockets stay open but go silent. */
    async goOffline() {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    },
    /** Closes the page without leaveRoom (no beforeunload handlers run): an abrupt departure. */
    async closeAbruptly() {
      p.closed = true;
      await context.close();
    },
    async close() {
      if (p.closed) return;
      p.closed = true;
      await context.close().catch(() => {});
    },
  };
  return p;
}

/**
 * Waits until the counters of `streamId` at `viewer` named in `keys` (e.g. ['audioPackets']) are
 * positive and then keep rising. Returns the last stats.
 */
export async function waitForRising(viewer, streamId, keys, { timeoutMs = 30000 } = {}) {
  const what = `${viewer.name}: ${keys.join(', ')} of ${streamId}`;
  const first = await waitFor(async () => {
    const s = await viewer.stats(streamId);
    return keys.every((k) => s[k] > 0) ? s : null;
  }, { timeoutMs, intervalMs: 250, what: `${what} to start` });
  return waitFor(async () => {
    const s = await viewer.stats(streamId);
    return keys.every((k) => s[k] >= first[k] + 10) ? s : null;
  }, { timeoutMs, intervalMs: 250, what: `${what} to keep rising (from ${JSON.stringify(first)})` });
}

/**
 * Waits until `viewer` receives `streamId` for real: the video element has a size, decoded frames
 * keep increasing, and audio packets keep arriving. Returns the last stats.
 */
export async function waitForMedia(viewer, streamId, { timeoutMs = 30000 } = {}) {
  const first = await waitFor(async () => {
    const s = await viewer.stats(streamId);
    return s.videoWidth > 0 && s.framesDecoded > 0 && s.audioPackets > 0 ? s : null;
  }, { timeoutMs, intervalMs: 250, what: `${viewer.name}: first video frame and audio packets of ${streamId}` })
    .catch(async (e) => {
      e.message += `; last stats ${JSON.stringify(await viewer.stats(streamId).catch(() => null))}`;
      const errors = await viewer.events({ type: 'subscribeError', streamId }).catch(() => []);
      if (errors.length) e.message += `; subscribe failed: ${JSON.stringify(errors.map((x) => x.error))}`;
      throw e;
    });
  // "Keeps rising": strictly more frames and packets later on.
  const later = await waitFor(async () => {
    const s = await viewer.stats(streamId);
    return s.framesDecoded >= first.framesDecoded + 10 && s.audioPackets >= first.audioPackets + 10 ? s : null;
  }, { timeoutMs, intervalMs: 250, what: `${viewer.name}: frames and audio packets of ${streamId} to keep rising (from ${JSON.stringify(first)})` });
  return later;
}
