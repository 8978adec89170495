// Error paths seen through the real openvidu-browser (2.22.0 over WSS, 2.32.2 over WS): tokens
// that are not valid, sessions that are gone, and requests the server must answer with an error
// instead of silence (the library would otherwise only fail after its 10 s request timeout).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createRequire } from 'node:module';
import { startServer } from '../lib/server.js';
import { startPageServer, launchBrowser, openParticipant } from '../lib/browser.js';
import { within, quietLibraryLogs, appendToError } from '../lib/util.js';

const require = createRequire(import.meta.url);
quietLibraryLogs(); // before loading the libraries
const VERSIONS = [
  { version: '2.22.0', node: require('ovnode22'), tls: true },
  { version: '2.32.2', node: require('ovnode32'), tls: false },
];
const only = process.env.INTEROP_BROWSER_VERSIONS;

for (const { version, node, tls } of VERSIONS) {
  if (only && !only.split(',').includes(version)) continue;

  describe(`join and request errors (openvidu-browser ${version}, ${tls ? 'wss' : 'ws'})`, () => {
    let server, pageServer, browser, ov;
    const open = new Set();
    const page = async (name) => {
      const p = await openParticipant(browser, pageServer, version, name);
      open.add(p);
      return p;
    };
    const step = (fn) => async (t) => {
      try {
        await fn(t);
      } catch (e) {
        const consoles = [...open].map((p) => p.consoleLines.slice(-15).join('\n')).join('\n');
        appendToError(e, `\n--- media server log (tail) ---\n${server ? server.tail(40) : ''}\n--- browser consoles (tail) ---\n${consoles}`);
        throw e;
      } finally {
        for (const p of open) await p.close();
        open.clear();
      }
    };

    before(async () => {
      server = await startServer({ tls });
      if (tls) https.globalAgent.options.ca = server.ca;
      pageServer = await startPageServer();
      browser = await launchBrowser({ ignoreCertificateErrors: tls });
      ov = new node.OpenVidu(server.url, server.secret);
    });
    after(async () => {
      for (const p of open) await p.close();
      if (browser) await browser.close().catch(() => {});
      if (pageServer) await pageServer.close();
      if (server) await server.stop();
    });

    it('a made-up token is refused', step(async () => {
      const session = await within(ov.createSession(), 10000, 'createSession');
      await within(session.createConnection(), 10000, 'createConnection');
      const p = await page('X');
      const r = await p.connect(`${server.wsUrl}?sessionId=${session.sessionId}&token=tok_MadeUp0123456789`);
      assert.equal(r.ok, false, 'connect with a made-up token must fail');
      assert.equal(r.error.code, 401, JSON.stringify(r.error));
    }));

    it('a token of a closed session is refused', step(async () => {
      const session = await within(ov.createSession(), 10000, 'createSession');
      const { token } = await within(session.createConnection(), 10000, 'createConnection');
      await within(session.close(), 10000, 'session.close');
      const p = await page('Y');
      const r = await p.connect(token);
      assert.equal(r.ok, false, 'connect to a closed session must fail');
      assert.ok(r.error.code === 401 || r.error.code === 202, `expected 401 or 202 (ROOM_NOT_FOUND): ${JSON.stringify(r.error)}`);
    }));

    it('a token revoked with forceDisconnect before use is refused', step(async () => {
      const session = await within(ov.createSession(), 10000, 'createSession');
      const c = await within(session.createConnection(), 10000, 'createConnection');
      await within(session.forceDisconnect(c), 10000, 'forceDisconnect(pending)');
      const p = await page('Z');
      const r = await p.connect(c.token);
      assert.equal(r.ok, false, 'connect with a revoked token must fail');
      assert.equal(r.error.code, 401, JSON.stringify(r.error));
    }));

    it('unknown methods and bad requests get error replies, and the participant stays', step(async () => {
      const session = await within(ov.createSession(), 10000, 'createSession');
      const c = await within(session.createConnection({ role: 'MODERATOR' }), 10000, 'createConnection');
      const p = await page('M');
      const j = await p.connect(c.token);
      assert.ok(j.ok, JSON.stringify(j.error));
      const checks = [
        ['noSuchMethod', {}],
        ['forceUnpublish', { streamId: 'str_CAM_Nope_con_Nope123456' }],
        ['forceDisconnect', { connectionId: 'con_Nope123456' }],
        ['receiveVideoFrom', { sender: 'str_CAM_Nope_con_Nope123456', sdpOffer: 'not an sdp' }],
        ['prepareReceiveVideoFrom', { sender: 'str_CAM_Nope_con_Nope123456', reconnect: false }],
        ['publishVideo', { sdpOffer: 'garbage', hasAudio: true, hasVideo: true, doLoopback: false }],
        ['sendMessage', { message: 'not json' }],
      ];
      // Not here: onIceCandidate for an unknown endpoint. The reference server answers {} (it
      // creates a subscriber endpoint on the fly for any name: KurentoParticipant#addIceCandidate).
      const wrong = [];
      for (const [method, params] of checks) {
        const r = await p.rawRequest(method, params);
        if (r.ok) wrong.push(`${method}: answered with a result ${JSON.stringify(r.result)}`);
        else if (/timed out/i.test(r.error.message)) wrong.push(`${method}: no answer (${r.error.message})`);
      }
      assert.deepEqual(wrong, [], 'each of these requests must get a JSON-RPC error reply');
      // Still joined and served.
      const echo = await p.rawRequest('echo', {});
      assert.ok(echo.ok, `echo after the bad requests: ${JSON.stringify(echo.error)}`);
      await within(session.fetch(), 10000, 'session.fetch');
      assert.equal(session.activeConnections.length, 1);
      const pub = await p.publish();
      assert.ok(pub.ok, `publish after the bad requests: ${JSON.stringify(pub.error)}`);
    }));

    it('an evicted participant gets its eviction notice even while it is sending requests', step(async () => {
      // The server must deliver participantEvicted before it closes the socket, also when the
      // client has requests in flight (closing a TCP socket with unread input sends a reset,
      // and the browser then drops what it had not read yet).
      for (const [how, reason] of [['REST DELETE connection', 'forceDisconnectByServer'], ['REST DELETE session', 'sessionClosedByServer']]) {
        for (let round = 0; round < 5; round++) {
          const session = await within(ov.createSession(), 10000, 'createSession');
          const c = await within(session.createConnection(), 10000, 'createConnection');
          const p = await page(`busy${round}`);
          const j = await p.connect(c.token);
          assert.ok(j.ok, JSON.stringify(j.error));
          await p.chatter(true);
          if (how === 'REST DELETE connection') await within(session.forceDisconnect(j.connectionId), 10000, 'forceDisconnect');
          else await within(session.close(), 10000, 'session.close');
          const e = await p.waitEvent({ type: 'sessionDisconnected' });
          assert.equal(e.reason, reason, `${how}, round ${round}: sessionDisconnected reason`);
          await p.close();
          open.delete(p);
        }
      }
    }));
  });
}
