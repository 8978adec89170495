// The real openvidu-node-client (2.22.0 and 2.32.2, from npm) against the media server binary:
// every call the library offers that OpenVidu CE supports, with the library's own status handling.
// Force-unpublish of a real stream is driven from the browser tests (it needs a publisher).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer } from '../lib/server.js';
import { within, rejection, uniq, quietLibraryLogs, appendToError } from '../lib/util.js';

const require = createRequire(import.meta.url);
quietLibraryLogs(); // before loading the libraries (2.32's logger keeps a reference to console.log)
const CLIENTS = [
  ['2.22.0', require('ovnode22')],
  ['2.32.2', require('ovnode32')],
];
const T = 10000; // no call may stay pending longer than this

for (const [version, lib] of CLIENTS) {
  const { OpenVidu, OpenViduRole, MediaMode, RecordingMode, VideoCodec } = lib;

  describe(`openvidu-node-client ${version}`, () => {
    let server;
    let ov;
    const call = (p, what) => within(p, T, what);

    before(async () => {
      server = await startServer();
      ov = new OpenVidu(server.url, server.secret);
    });
    after(async () => {
      if (server) await server.stop();
    });

    // Appends the server's last log lines to a failure.
    const withLog = (fn) => async (t) => {
      try {
        await fn(t);
      } catch (e) {
        appendToError(e, `\n--- media server log (tail) ---\n${server ? server.tail(30) : '(no server)'}`);
        throw e;
      }
    };

    it('createSession() without properties creates a session with a generated id', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      assert.equal(typeof s.sessionId, 'string');
      assert.ok(s.sessionId.length > 0, 'sessionId is empty');
      assert.equal(typeof s.createdAt, 'number');
      assert.ok(s.createdAt > 0, `createdAt ${s.createdAt}`);
      assert.equal(s.properties.mediaMode, MediaMode.ROUTED);
      assert.equal(s.properties.recordingMode, RecordingMode.MANUAL);
      assert.ok(ov.activeSessions.some((x) => x.sessionId === s.sessionId), 'new session not in ov.activeSessions');
      const other = await call(ov.createSession(), 'second createSession()');
      assert.notEqual(other.sessionId, s.sessionId, 'two sessions got the same generated id');
    }));

    it('createSession({customSessionId}) uses that id; a second one resolves to the existing session (409 path)', withLog(async () => {
      const id = `interop_${uniq()}`;
      const s1 = await call(ov.createSession({ customSessionId: id }), 'createSession(custom)');
      assert.equal(s1.sessionId, id);
      assert.equal(s1.properties.customSessionId, id);
      await call(s1.createConnection({ data: 'marker' }), 'createConnection');
      const s2 = await call(ov.createSession({ customSessionId: id }), 'createSession(same custom id)');
      assert.equal(s2.sessionId, id);
      assert.equal(s2.createdAt, s1.createdAt, 'the 409 path must fetch the existing session, not a new one');
      assert.ok(s2.connections.some((c) => c.serverData === 'marker'),
        'the 409 path fetch (pendingConnections=true) must bring the pending connection created before');
    }));

    it('createSession(properties) echoes the properties', withLog(async () => {
      const id = `props_${uniq()}`;
      const s = await call(ov.createSession({
        customSessionId: id,
        mediaMode: MediaMode.ROUTED,
        recordingMode: RecordingMode.MANUAL,
        forcedVideoCodec: VideoCodec.VP8,
        allowTranscoding: false,
      }), 'createSession(props)');
      assert.equal(s.sessionId, id);
      assert.equal(s.properties.mediaMode, 'ROUTED');
      assert.equal(s.properties.recordingMode, 'MANUAL');
      assert.equal(s.properties.forcedVideoCodec, 'VP8');
      assert.equal(s.properties.allowTranscoding, false);
      assert.equal(s.recording, false);
    }));

    it('createConnection() with defaults, roles and data returns pending connections with tokens', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const def = await call(s.createConnection(), 'createConnection()');
      assert.equal(typeof def.connectionId, 'string');
      assert.ok(def.connectionId.length > 0);
      assert.equal(def.status, 'pending');
      assert.equal(def.role, OpenViduRole.PUBLISHER, 'default role is PUBLISHER');
      assert.equal(def.connectionProperties.record, true, 'default record is true');
      assert.equal(def.serverData, '');
      assert.equal(def.connectionProperties.type, 'WEBRTC');
      assert.equal(typeof def.createdAt, 'number');
      checkToken(def.token, server, s.sessionId);

      for (const role of [OpenViduRole.SUBSCRIBER, OpenViduRole.PUBLISHER, OpenViduRole.MODERATOR]) {
        const c = await call(s.createConnection({ role, data: `data of ${role}`, record: false }), `createConnection(${role})`);
        assert.equal(c.role, role);
        assert.equal(c.serverData, `data of ${role}`);
        assert.equal(c.connectionProperties.record, false);
        assert.equal(c.status, 'pending');
        checkToken(c.token, server, s.sessionId);
        assert.notEqual(c.token, def.token, 'tokens must differ');
      }
      assert.equal(s.connections.length, 4, 'createConnection pushes to session.connections');
      assert.equal(s.activeConnections.length, 0, 'pending connections are not active');
    }));

    it('generateToken() returns a token that shows up as a pending connection', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const t1 = await call(s.generateToken(), 'generateToken()');
      checkToken(t1, server, s.sessionId);
      const t2 = await call(s.generateToken({ role: OpenViduRole.SUBSCRIBER, data: 'tokdata' }), 'generateToken(opts)');
      checkToken(t2, server, s.sessionId);
      assert.notEqual(t1, t2);
      await call(s.fetch(), 'session.fetch()');
      const c2 = s.connections.find((c) => c.token === t2);
      assert.ok(c2, `token not among the fetched pending connections: ${JSON.stringify(s.connections.map((c) => c.token))}`);
      assert.equal(c2.role, 'SUBSCRIBER');
      assert.equal(c2.serverData, 'tokdata');
      assert.equal(c2.status, 'pending');
    }));

    it('session.fetch() reads the session with its pending connections', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const c = await call(s.createConnection({ role: OpenViduRole.SUBSCRIBER, data: 'x' }), 'createConnection');
      // A second OpenVidu object knows nothing about the connection until it fetches.
      const ov2 = new OpenVidu(server.url, server.secret);
      const s2 = await call(ov2.createSession({ customSessionId: s.sessionId }), 'createSession(existing id)');
      assert.equal(s2.sessionId, s.sessionId);
      const changed = await call(s2.fetch(), 'session.fetch()');
      assert.equal(typeof changed, 'boolean');
      const fetched = s2.connections.find((x) => x.connectionId === c.connectionId);
      assert.ok(fetched, 'pending connection missing after fetch');
      assert.equal(fetched.role, 'SUBSCRIBER');
      assert.equal(fetched.serverData, 'x');
      assert.equal(fetched.token, c.token);
      assert.equal(s2.activeConnections.length, 0);
      assert.equal(await call(s2.fetch(), 'second session.fetch()'), false, 'nothing changed, so fetch() resolves false');
    }));

    it('ov.fetch() lists every session (also never-joined ones) in ov.activeSessions', withLog(async () => {
      const a = await call(ov.createSession(), 'createSession()');
      const b = await call(ov.createSession({ customSessionId: `list_${uniq()}` }), 'createSession(custom)');
      await call(b.createConnection(), 'createConnection');
      const fresh = new OpenVidu(server.url, server.secret);
      assert.equal(fresh.activeSessions.length, 0);
      const changed = await call(fresh.fetch(), 'ov.fetch()');
      assert.equal(changed, true, 'the first fetch changes activeSessions');
      const ids = fresh.activeSessions.map((x) => x.sessionId);
      assert.ok(ids.includes(a.sessionId), `${a.sessionId} not in ${ids}`);
      assert.ok(ids.includes(b.sessionId), `${b.sessionId} not in ${ids}`);
      const fb = fresh.activeSessions.find((x) => x.sessionId === b.sessionId);
      assert.equal(fb.connections.length, 1, 'ov.fetch() brings pending connections too');
      assert.equal(await call(fresh.fetch(), 'second ov.fetch()'), false);
    }));

    it('session.forceDisconnect() of a pending connection invalidates it', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const keep = await call(s.createConnection(), 'createConnection');
      const gone = await call(s.createConnection(), 'createConnection');
      await call(s.forceDisconnect(gone), 'forceDisconnect(connection)');
      assert.ok(!s.connections.some((c) => c.connectionId === gone.connectionId), 'local list still has it');
      await call(s.fetch(), 'fetch');
      const ids = s.connections.map((c) => c.connectionId);
      assert.ok(!ids.includes(gone.connectionId), 'server still lists the removed connection');
      assert.ok(ids.includes(keep.connectionId));
      // By id, and unknown ids.
      const other = await call(s.createConnection(), 'createConnection');
      await call(s.forceDisconnect(other.connectionId), 'forceDisconnect(id)');
      const e = await rejection(call(s.forceDisconnect('con_DoesNotExist'), 'forceDisconnect(unknown)'), 'forceDisconnect(unknown)');
      assert.equal(e.message, '404');
    }));

    it('session.forceUnpublish() of an unknown stream is rejected with 404', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      await call(s.createConnection(), 'createConnection');
      const e = await rejection(call(s.forceUnpublish('str_CAM_Xxxx_con_Nope'), 'forceUnpublish'), 'forceUnpublish(unknown)');
      assert.equal(e.message, '404');
    }));

    it('session.close() deletes the session; later calls on it are rejected with 404', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      await call(s.createConnection(), 'createConnection');
      await call(s.close(), 'session.close()');
      assert.ok(!ov.activeSessions.some((x) => x.sessionId === s.sessionId), 'still in ov.activeSessions');
      let e = await rejection(call(s.fetch(), 'fetch of closed session'), 'fetch of closed session');
      assert.equal(e.message, '404');
      e = await rejection(call(s.createConnection(), 'createConnection on closed session'), 'createConnection on closed session');
      assert.equal(e.message, '404');
      e = await rejection(call(s.generateToken(), 'generateToken on closed session'), 'generateToken on closed session');
      assert.equal(e.message, '404');
      e = await rejection(call(s.close(), 'second close'), 'second close');
      assert.equal(e.message, '404');
      const fresh = new OpenVidu(server.url, server.secret);
      await call(fresh.fetch(), 'ov.fetch()');
      assert.ok(!fresh.activeSessions.some((x) => x.sessionId === s.sessionId), 'closed session still listed');
    }));

    it('a wrong secret is rejected with Error("401")', withLog(async () => {
      const bad = new OpenVidu(server.url, server.secret + 'x');
      let e = await rejection(call(bad.createSession(), 'createSession'), 'createSession with wrong secret');
      assert.equal(e.message, '401');
      e = await rejection(call(bad.fetch(), 'ov.fetch'), 'ov.fetch with wrong secret');
      assert.equal(e.message, '401');
      const s = await call(ov.createSession(), 'createSession()');
      const foreign = new (lib.Session)(bad);
      foreign.sessionId = s.sessionId;
      e = await rejection(call(foreign.createConnection(), 'createConnection'), 'createConnection with wrong secret');
      assert.equal(e.message, '401');
    }));

    it('recordings are rejected: the server has recording disabled (501)', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const checks = [
        ['startRecording(id)', () => ov.startRecording(s.sessionId)],
        ['startRecording(id, name)', () => ov.startRecording(s.sessionId, 'name')],
        ['startRecording(id, props)', () => ov.startRecording(s.sessionId, { outputMode: 'COMPOSED', hasAudio: true })],
        ['stopRecording', () => ov.stopRecording(s.sessionId)],
        ['getRecording', () => ov.getRecording(s.sessionId)],
        ['listRecordings', () => ov.listRecordings()],
        ['deleteRecording', () => ov.deleteRecording(s.sessionId)],
      ];
      if (typeof ov.startBroadcast === 'function') {
        checks.push(['startBroadcast', () => ov.startBroadcast(s.sessionId, 'rtmp://127.0.0.1/live')]);
        checks.push(['stopBroadcast', () => ov.stopBroadcast(s.sessionId)]);
      }
      const wrong = [];
      for (const [name, f] of checks) {
        const e = await rejection(call(f(), name), name);
        if (e.message !== '501') wrong.push(`${name} -> ${e.message}`);
      }
      assert.deepEqual(wrong, [], 'every recording/broadcast call must be rejected with Error("501")');
    }));

    it('updateConnection() (Pro only) is rejected', withLog(async () => {
      const s = await call(ov.createSession(), 'createSession()');
      const c = await call(s.createConnection(), 'createConnection');
      await rejection(call(s.updateConnection(c.connectionId, { role: 'MODERATOR' }), 'updateConnection'), 'updateConnection');
    }));
  });
}

function checkToken(token, server, sessionId) {
  assert.equal(typeof token, 'string');
  const u = new URL(token);
  assert.equal(u.protocol, server.tls ? 'wss:' : 'ws:', `token scheme: ${token}`);
  assert.equal(u.host, `127.0.0.1:${server.port}`, `token host: ${token}`);
  assert.equal(u.searchParams.get('sessionId'), sessionId, `token sessionId: ${token}`);
  assert.match(u.searchParams.get('token') || '', /^tok_[A-Za-z0-9]+$/, `token param: ${token}`);
}
