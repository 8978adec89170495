// The real openvidu-browser (2.22.0 over WSS, 2.32.2 over plain WS) in Debian's headless Chromium
// with fake camera and microphone, against the media server binary. Tokens come from the real
// openvidu-node-client of the same version. At most 4 pages are open at once (2 cores).
//
// One scenario per version; its steps run in order and share the participants:
//   A PUBLISHER, B MODERATOR, C SUBSCRIBER; later C2 (SUBSCRIBER), D, D2, E, F (PUBLISHER), and G, H
//   in a second session.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createRequire } from 'node:module';
import { startServer, rest, describeResponse, waitFor, graceFlag } from '../lib/server.js';
import { startPageServer, launchBrowser, openParticipant, waitForMedia } from '../lib/browser.js';
import { within, quietLibraryLogs, appendToError } from '../lib/util.js';

const require = createRequire(import.meta.url);
quietLibraryLogs(); // before loading the libraries (2.32's logger keeps a reference to console.log)
const VERSIONS = [
  { version: '2.22.0', node: require('ovnode22'), tls: true },
  { version: '2.32.2', node: require('ovnode32'), tls: false },
];
const only = process.env.INTEROP_BROWSER_VERSIONS; // e.g. "2.32.2" to run one version
// The server's reconnect grace: shortened when the binary has a flag for it, else its default (~15 s).
const GRACE_SECONDS = 3;
const EVICTION_TIMEOUT_MS = (graceFlagSafe() ? GRACE_SECONDS : 15) * 1000 + 30000;

function graceFlagSafe() {
  try { return graceFlag(); } catch { return null; }
}

for (const { version, node, tls } of VERSIONS) {
  if (only && !only.split(',').includes(version)) continue;

  describe(`openvidu-browser ${version} in Chromium (${tls ? 'wss' : 'ws'})`, () => {
    let server, pageServer, browser, ov, session;
    const open = new Set();
    const P = {};

    const participant = async (name) => {
      const p = await openParticipant(browser, pageServer, version, name);
      open.add(p);
      return p;
    };
    const token = async (role, data = '') => (await within(session.createConnection({ role, data }), 10000, 'createConnection')).token;
    const joined = async (name, role) => {
      const p = await participant(name);
      const r = await p.connect(await token(role, `server data of ${name}`));
      assert.ok(r.ok, `${name} (${role}) connect failed: ${JSON.stringify(r.error)}`);
      assert.equal(r.role, role);
      return p;
    };
    const published = async (p) => {
      const r = await p.publish();
      assert.ok(r.ok, `${p.name} publish failed: ${JSON.stringify(r.error)}`);
      return r.streamId;
    };

    // On failure: the server log and the pages' console lines.
    const step = (fn) => async (t) => {
      try {
        await fn(t);
      } catch (e) {
        const consoles = [...open].map((p) => p.consoleLines.slice(-15).join('\n')).join('\n');
        appendToError(e, `\n--- media server log (tail) ---\n${server ? server.tail(40) : ''}\n--- browser consoles (tail) ---\n${consoles}`);
        throw e;
      }
    };

    before(async () => {
      server = await startServer({ tls, graceSeconds: GRACE_SECONDS });
      if (tls) https.globalAgent.options.ca = server.ca; // the node client's REST calls trust the throwaway cert
      pageServer = await startPageServer();
      browser = await launchBrowser({ ignoreCertificateErrors: tls });
      ov = new node.OpenVidu(server.url, server.secret);
      session = await within(ov.createSession(), 10000, 'createSession');
    });

    after(async () => {
      for (const p of open) await p.close();
      if (browser) await browser.close().catch(() => {});
      if (pageServer) await pageServer.close();
      if (server) await server.stop();
    });

    it('two publishers see and hear each other', step(async () => {
      P.A = await joined('A', 'PUBLISHER');
      P.B = await joined('B', 'MODERATOR');
      // A sees B join, B sees A as an existing participant.
      const bAtA = await P.A.waitEvent({ type: 'connectionCreated', connectionId: P.B.connectionId });
      const aAtB = await P.B.waitEvent({ type: 'connectionCreated', connectionId: P.A.connectionId });
      // Connection.data is clientData%/%serverData, as the reference server joins them (B.3.1).
      assert.equal(bAtA.data, `${JSON.stringify({ clientData: 'B' })}%/%server data of B`);
      assert.equal(aAtB.data, `${JSON.stringify({ clientData: 'A' })}%/%server data of A`);
      const own = await P.A.waitEvent({ type: 'connectionCreated', connectionId: P.A.connectionId });
      assert.equal(own.data, `${JSON.stringify({ clientData: 'A' })}%/%server data of A`);
      await published(P.A);
      await published(P.B);
      await P.B.waitEvent({ type: 'streamCreated', streamId: P.A.streamId });
      await P.A.waitEvent({ type: 'streamCreated', streamId: P.B.streamId });
      const atB = await waitForMedia(P.B, P.A.streamId);
      const atA = await waitForMedia(P.A, P.B.streamId);
      assert.ok(atB.videoWidth > 0 && atA.videoWidth > 0);

      // The node client sees both as active, publishing, subscribed to each other.
      await within(session.fetch(), 10000, 'session.fetch');
      const a = session.activeConnections.find((c) => c.connectionId === P.A.connectionId);
      const b = session.activeConnections.find((c) => c.connectionId === P.B.connectionId);
      assert.ok(a && b, `active connections: ${session.activeConnections.map((c) => c.connectionId)}`);
      assert.equal(a.status, 'active');
      assert.equal(a.role, 'PUBLISHER');
      assert.equal(b.role, 'MODERATOR');
      assert.equal(a.serverData, 'server data of A');
      assert.equal(a.clientData, JSON.stringify({ clientData: 'A' }));
      assert.equal(typeof a.platform, 'string');
      assert.ok(a.platform.length > 0);
      assert.equal(a.publishers.length, 1);
      assert.equal(a.publishers[0].streamId, P.A.streamId);
      assert.equal(a.publishers[0].hasAudio, true);
      assert.equal(a.publishers[0].hasVideo, true);
      assert.equal(a.publishers[0].typeOfVideo, 'CAMERA');
      assert.ok(a.subscribers.includes(P.B.streamId), `A's subscribers: ${JSON.stringify(a.subscribers)}`);
      assert.ok(b.subscribers.includes(P.A.streamId), `B's subscribers: ${JSON.stringify(b.subscribers)}`);
    }));

    it('a SUBSCRIBER receives both streams but publish() fails with OPENVIDU_PERMISSION_DENIED', step(async () => {
      P.C = await joined('C', 'SUBSCRIBER');
      await P.C.waitEvent({ type: 'streamCreated', streamId: P.A.streamId });
      await P.C.waitEvent({ type: 'streamCreated', streamId: P.B.streamId });
      await waitForMedia(P.C, P.A.streamId);
      await waitForMedia(P.C, P.B.streamId);
      const r = await P.C.publish();
      assert.equal(r.ok, false, 'a SUBSCRIBER must not be able to publish');
      assert.equal(r.error.name, 'OPENVIDU_PERMISSION_DENIED', JSON.stringify(r.error));
      await P.A.waitEvent({ type: 'connectionCreated', connectionId: P.C.connectionId });
    }));

    it('signals reach exactly their targets (client and REST)', step(async () => {
      const { A, B, C } = P;
      let r = await A.signal([B.connectionId], 'chat', 'for B only');
      assert.ok(r.ok, JSON.stringify(r.error));
      const got = await B.waitEvent({ type: 'signal', signalType: 'signal:chat' });
      assert.equal(got.data, 'for B only');
      assert.equal(got.from, A.connectionId);
      r = await A.signal([], 'all', 'for everyone');
      assert.ok(r.ok, JSON.stringify(r.error));
      for (const p of [A, B, C]) {
        const e = await p.waitEvent({ type: 'signal', signalType: 'signal:all' });
        assert.equal(e.data, 'for everyone');
        assert.equal(e.from, A.connectionId);
      }
      // The broadcast was sent after the targeted signal, on the same socket: who got the broadcast
      // but not the targeted one really was not a target.
      assert.equal((await C.events({ type: 'signal', signalType: 'signal:chat' })).length, 0, 'C got a signal meant for B');
      assert.equal((await A.events({ type: 'signal', signalType: 'signal:chat' })).length, 0, 'the sender got its own targeted signal');

      // REST signals: to one connection, then to everyone; `from` is absent.
      let res = await rest(server, 'POST', '/openvidu/api/signal', { body: { session: session.sessionId, to: [C.connectionId], type: 'signal:rest', data: 'from the server' } });
      assert.equal(res.status, 200, describeResponse('POST', '/openvidu/api/signal', res));
      const e = await C.waitEvent({ type: 'signal', signalType: 'signal:rest' });
      assert.equal(e.data, 'from the server');
      assert.equal(e.from, null);
      res = await rest(server, 'POST', '/openvidu/api/signal', { body: { session: session.sessionId, type: 'signal:restall', data: 'all' } });
      assert.equal(res.status, 200, describeResponse('POST', '/openvidu/api/signal', res));
      for (const p of [A, B, C]) await p.waitEvent({ type: 'signal', signalType: 'signal:restall' });
      assert.equal((await A.events({ type: 'signal', signalType: 'signal:rest' })).length, 0);
      assert.equal((await B.events({ type: 'signal', signalType: 'signal:rest' })).length, 0);
      // An unknown target: 406.
      res = await rest(server, 'POST', '/openvidu/api/signal', { body: { session: session.sessionId, to: ['con_NotThere12'], type: 'x', data: 'y' } });
      assert.equal(res.status, 406, describeResponse('POST', '/openvidu/api/signal', res));
    }));

    it('a PUBLISHER gets OPENVIDU_PERMISSION_DENIED for forceUnpublish and forceDisconnect', step(async () => {
      let r = await P.A.forceUnpublish(P.B.streamId);
      assert.equal(r.ok, false, 'a PUBLISHER must not force-unpublish');
      assert.equal(r.error.name, 'OPENVIDU_PERMISSION_DENIED', JSON.stringify(r.error));
      r = await P.A.forceDisconnect(P.C.connectionId);
      assert.equal(r.ok, false, 'a PUBLISHER must not force-disconnect');
      assert.equal(r.error.name, 'OPENVIDU_PERMISSION_DENIED', JSON.stringify(r.error));
      // Nothing happened: C still receives B's stream.
      await waitForMedia(P.C, P.B.streamId);
    }));

    it('muting and unmuting reach the others as streamPropertyChanged', step(async () => {
      const { A, B, C } = P;
      for (const [property, method] of [['audioActive', 'publishAudio'], ['videoActive', 'publishVideo']]) {
        await A[method](false);
        for (const p of [B, C]) {
          const e = await p.waitEvent({ type: 'streamPropertyChanged', streamId: A.streamId, property, newValue: false });
          assert.equal(e.reason, method);
        }
        await within(session.fetch(), 10000, 'session.fetch');
        const pub = session.activeConnections.find((c) => c.connectionId === A.connectionId).publishers[0];
        assert.equal(pub[property], false, `node client: ${property} after ${method}(false)`);
        // true is the value that shows the encoding: the browser decodes newValue with === 'true'.
        await A[method](true);
        for (const p of [B, C]) {
          await p.waitEvent({ type: 'streamPropertyChanged', streamId: A.streamId, property, newValue: true });
        }
      }
    }));

    it('unpublish() and unsubscribe() work; publishing again reaches everyone', step(async () => {
      const { A, B, C } = P;
      const old = B.streamId;
      let r = await B.unpublish();
      assert.ok(r.ok, JSON.stringify(r.error));
      for (const p of [A, C]) {
        const e = await p.waitEvent({ type: 'streamDestroyed', streamId: old });
        assert.equal(e.reason, 'unpublish');
      }
      const again = await published(B);
      assert.notEqual(again, old);
      await waitForMedia(C, again);
      await waitForMedia(A, again);

      r = await C.unsubscribe(again);
      assert.ok(r.ok, JSON.stringify(r.error));
      await waitFor(async () => {
        await within(session.fetch(), 10000, 'session.fetch');
        const c = session.activeConnections.find((x) => x.connectionId === C.connectionId);
        return c && !c.subscribers.includes(again) && c.subscribers.includes(A.streamId);
      }, { timeoutMs: 10000, intervalMs: 200, what: `node client: C no longer subscribed to ${again}, still to ${A.streamId}` });
      // C subscribes again.
      r = await C.subscribe(again);
      assert.ok(r.ok);
      await waitForMedia(C, again);
    }));

    it('a signaling socket that drops and comes back keeps its participant (connect)', step(async () => {
      const { A, C } = P;
      await C.reconnectSocket();
      await C.waitEvent({ type: 'reconnected' });
      // The new socket carries C's traffic both ways.
      const res = await rest(server, 'POST', '/openvidu/api/signal', { body: { session: session.sessionId, to: [C.connectionId], type: 'signal:afterReconnect', data: 'x' } });
      assert.equal(res.status, 200, describeResponse('POST', '/openvidu/api/signal', res));
      await C.waitEvent({ type: 'signal', signalType: 'signal:afterReconnect' });
      const r = await C.signal([A.connectionId], 'fromC', 'y');
      assert.ok(r.ok, JSON.stringify(r.error));
      await A.waitEvent({ type: 'signal', signalType: 'signal:fromC' });
      // Still there once the reconnect grace is over: an observation window, not a synchronization.
      const until = Date.now() + (graceFlagSafe() ? GRACE_SECONDS : 15) * 1000 + 2000;
      await waitFor(() => Date.now() > until, { timeoutMs: EVICTION_TIMEOUT_MS, intervalMs: 250, what: 'the reconnect grace to pass' });
      assert.equal((await A.events({ type: 'connectionDestroyed', connectionId: C.connectionId })).length, 0, 'C was evicted although its socket came back');
      assert.equal((await C.events({ type: 'sessionDisconnected' })).length, 0);
      await within(session.fetch(), 10000, 'session.fetch');
      assert.ok(session.activeConnections.some((c) => c.connectionId === C.connectionId), 'C is no longer active');
      await waitForMedia(C, A.streamId);
    }));

    it('a MODERATOR can force-unpublish; so can the node client (REST)', step(async () => {
      const { A, B, C } = P;
      const first = A.streamId;
      const r = await B.forceUnpublish(first);
      assert.ok(r.ok, JSON.stringify(r.error));
      const own = await A.waitEvent({ type: 'publisherStreamDestroyed', streamId: first });
      assert.equal(own.reason, 'forceUnpublishByUser');
      for (const p of [B, C]) {
        const e = await p.waitEvent({ type: 'streamDestroyed', streamId: first });
        assert.equal(e.reason, 'forceUnpublishByUser');
      }
      // A publishes again; the node client force-unpublishes the new stream.
      const second = await published(A);
      assert.notEqual(second, first);
      for (const p of [B, C]) await p.waitEvent({ type: 'streamCreated', streamId: second });
      await within(session.fetch(), 10000, 'session.fetch');
      const conn = session.activeConnections.find((c) => c.connectionId === A.connectionId);
      const pub = conn && conn.publishers.find((p) => p.streamId === second);
      assert.ok(pub, `node client does not see A's new stream ${second}`);
      await within(session.forceUnpublish(pub), 10000, 'session.forceUnpublish');
      const own2 = await A.waitEvent({ type: 'publisherStreamDestroyed', streamId: second });
      assert.equal(own2.reason, 'forceUnpublishByServer');
      for (const p of [B, C]) {
        const e = await p.waitEvent({ type: 'streamDestroyed', streamId: second });
        assert.equal(e.reason, 'forceUnpublishByServer');
      }
      await within(session.fetch(), 10000, 'session.fetch');
      assert.equal(session.activeConnections.find((c) => c.connectionId === A.connectionId).publishers.length, 0);
    }));

    it('a MODERATOR can force-disconnect; so can the node client (REST)', step(async () => {
      const { A, B, C } = P;
      const r = await B.forceDisconnect(C.connectionId);
      assert.ok(r.ok, JSON.stringify(r.error));
      const gone = await C.waitEvent({ type: 'sessionDisconnected' });
      assert.equal(gone.reason, 'forceDisconnectByUser');
      for (const p of [A, B]) {
        const e = await p.waitEvent({ type: 'connectionDestroyed', connectionId: C.connectionId });
        assert.equal(e.reason, 'forceDisconnectByUser');
      }
      await C.close();
      open.delete(C);

      P.C2 = await joined('C2', 'SUBSCRIBER');
      await A.waitEvent({ type: 'connectionCreated', connectionId: P.C2.connectionId });
      await within(session.fetch(), 10000, 'session.fetch');
      const conn = session.activeConnections.find((c) => c.connectionId === P.C2.connectionId);
      assert.ok(conn, 'node client does not see C2 as active');
      await within(session.forceDisconnect(conn), 10000, 'session.forceDisconnect');
      const gone2 = await P.C2.waitEvent({ type: 'sessionDisconnected' });
      assert.equal(gone2.reason, 'forceDisconnectByServer');
      for (const p of [A, B]) {
        const e = await p.waitEvent({ type: 'connectionDestroyed', connectionId: P.C2.connectionId });
        assert.equal(e.reason, 'forceDisconnectByServer');
      }
      await P.C2.close();
      open.delete(P.C2);
    }));

    it('a page that leaves makes the others get streamDestroyed and connectionDestroyed', step(async () => {
      const { A, B } = P;
      await B.disconnect();
      const sd = await A.waitEvent({ type: 'streamDestroyed', streamId: B.streamId });
      assert.equal(sd.reason, 'disconnect');
      const cd = await A.waitEvent({ type: 'connectionDestroyed', connectionId: B.connectionId });
      assert.equal(cd.reason, 'disconnect');
      await B.close();
      open.delete(B);
      await within(session.fetch(), 10000, 'session.fetch');
      assert.deepEqual(session.activeConnections.map((c) => c.connectionId), [A.connectionId]);
    }));

    it('a page closed abruptly is evicted with networkDisconnect', step(async () => {
      const { A } = P;
      P.D = await joined('D', 'PUBLISHER');
      const streamId = await published(P.D);
      await A.waitEvent({ type: 'streamCreated', streamId });
      await P.D.closeAbruptly();
      open.delete(P.D);
      const sd = await A.waitEvent({ type: 'streamDestroyed', streamId }, EVICTION_TIMEOUT_MS);
      assert.equal(sd.reason, 'networkDisconnect');
      const cd = await A.waitEvent({ type: 'connectionDestroyed', connectionId: P.D.connectionId }, EVICTION_TIMEOUT_MS);
      assert.equal(cd.reason, 'networkDisconnect');
    }));

    it('a page whose network goes silent is evicted with networkDisconnect (missed pings)', step(async () => {
      const { A } = P;
      const D2 = await joined('D2', 'PUBLISHER');
      const streamId = await published(D2);
      await A.waitEvent({ type: 'streamCreated', streamId });
      await D2.goOffline(); // the socket stays open, pings stop: the server's ping watchdog must notice
      const timeout = 15000 + EVICTION_TIMEOUT_MS;
      const sd = await A.waitEvent({ type: 'streamDestroyed', streamId }, timeout);
      assert.equal(sd.reason, 'networkDisconnect');
      const cd = await A.waitEvent({ type: 'connectionDestroyed', connectionId: D2.connectionId }, timeout);
      assert.equal(cd.reason, 'networkDisconnect');
      await D2.close();
      open.delete(D2);
    }));

    it('a token works once, and the session closes when its last participant leaves', step(async () => {
      const t = await token('PUBLISHER');
      const first = await participant('E');
      let r = await first.connect(t);
      assert.ok(r.ok, JSON.stringify(r.error));
      const second = await participant('F');
      r = await second.connect(t);
      assert.equal(r.ok, false, 'a token must work only once');
      await second.close();
      open.delete(second);
      await first.disconnect();
      for (const p of open) if (p !== first && !p.closed) await p.disconnect().catch(() => {});
      await waitFor(async () => {
        try {
          await within(session.fetch(), 10000, 'session.fetch');
          return false;
        } catch (e) {
          return e.message === '404';
        }
      }, { timeoutMs: 20000, intervalMs: 300, what: 'the session to close after its last participant left (fetch -> 404)' });
      for (const p of [...open]) {
        await p.close();
        open.delete(p);
      }
    }));

    it('closing a session over REST evicts everyone with sessionClosedByServer', step(async () => {
      const other = await within(ov.createSession(), 10000, 'createSession');
      const G = await participant('G');
      const H = await participant('H');
      for (const [p, role] of [[G, 'PUBLISHER'], [H, 'SUBSCRIBER']]) {
        const c = await within(other.createConnection({ role }), 10000, 'createConnection');
        const r = await p.connect(c.token);
        assert.ok(r.ok, JSON.stringify(r.error));
      }
      const streamId = await published(G);
      await H.waitEvent({ type: 'streamCreated', streamId });
      await within(other.close(), 10000, 'session.close');
      for (const p of [G, H]) {
        const e = await p.waitEvent({ type: 'sessionDisconnected' });
        assert.equal(e.reason, 'sessionClosedByServer');
      }
      const e = await rest(server, 'GET', `/openvidu/api/sessions/${other.sessionId}`);
      assert.equal(e.status, 404, describeResponse('GET', `/openvidu/api/sessions/${other.sessionId}`, e));
    }));
  });
}
