// Raw HTTP checks of the REST API for what the node clients do not call or do not look at:
// JSON shapes, /config, /signal, bad bodies (400), unknown sessions (404), auth (401), recordings (501).
// Expected statuses and fields are the ones of shared/design/OPENVIDU-PROTOCOL.md, section C.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rest, describeResponse, waitFor } from '../lib/server.js';
import { uniq, appendToError } from '../lib/util.js';

describe('REST API (raw HTTP)', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { if (server) await server.stop(); });

  const withLog = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (e) {
      appendToError(e, `\n--- media server log (tail) ---\n${server ? server.tail(30) : '(no server)'}`);
      throw e;
    }
  };
  // Asserts the status of a request; returns the response.
  async function expect(status, method, path, opts) {
    const r = await rest(server, method, path, opts);
    assert.equal(r.status, status, describeResponse(method, path, r));
    return r;
  }
  // Every body in `bads` must be answered 400; lists all that are not.
  async function expectAll400(method, path, bads) {
    const wrong = [];
    for (const opts of bads) {
      const r = await rest(server, method, path, opts);
      if (r.status !== 400) wrong.push(`${opts.rawBody ?? JSON.stringify(opts.body)} -> ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.deepEqual(wrong, [], `${method} ${path}: these bodies must be rejected with 400`);
  }
  const newSession = async (body = {}) => (await expect(200, 'POST', '/openvidu/api/sessions', { body })).json;
  const newConnection = async (sid, body = {}) => (await expect(200, 'POST', `/openvidu/api/sessions/${sid}/connection`, { body })).json;

  it('rejects a missing or wrong secret with 401 on every endpoint', withLog(async () => {
    const s = await newSession();
    const endpoints = [
      ['GET', '/openvidu/api/sessions'],
      ['POST', '/openvidu/api/sessions'],
      ['GET', `/openvidu/api/sessions/${s.id}`],
      ['DELETE', `/openvidu/api/sessions/${s.id}`],
      ['POST', `/openvidu/api/sessions/${s.id}/connection`],
      ['GET', `/openvidu/api/sessions/${s.id}/connection`],
      ['POST', '/openvidu/api/tokens'],
      ['POST', '/openvidu/api/signal'],
      ['GET', '/openvidu/api/config'],
      ['GET', '/openvidu/api/recordings'],
    ];
    for (const [m, p] of endpoints) {
      await expect(401, m, p, { auth: false, body: m === 'POST' ? { session: s.id } : undefined });
      await expect(401, m, p, { auth: 'not-the-secret', body: m === 'POST' ? { session: s.id } : undefined });
    }
    // A different user name with the right password is not OPENVIDUAPP.
    const r = await rest(server, 'GET', '/openvidu/api/sessions', {
      auth: false, headers: { Authorization: 'Basic ' + Buffer.from('SOMEONE:' + server.secret).toString('base64') },
    });
    assert.equal(r.status, 401, describeResponse('GET', '/openvidu/api/sessions', r));
    // The session survived the unauthenticated DELETE.
    await expect(200, 'GET', `/openvidu/api/sessions/${s.id}`);
  }));

  it('POST /sessions returns the Session object of the protocol (C.4.1)', withLog(async () => {
    const r = await expect(200, 'POST', '/openvidu/api/sessions', { body: {} });
    assert.match(r.headers['content-type'] || '', /application\/json/);
    const s = r.json;
    assert.match(s.id, /^ses_[A-Z][A-Za-z0-9]{9}$/);
    assert.equal(s.object, 'session');
    assert.equal(s.sessionId, s.id);
    assert.equal(typeof s.createdAt, 'number');
    assert.equal(s.recording, false);
    assert.equal(s.mediaMode, 'ROUTED');
    assert.equal(s.recordingMode, 'MANUAL');
    assert.equal(s.customSessionId, '');
    assert.equal(typeof s.defaultRecordingProperties, 'object');
    assert.equal(typeof s.forcedVideoCodec, 'string');
    assert.equal(typeof s.allowTranscoding, 'boolean');
    assert.deepEqual(s.connections, { numberOfElements: 0, content: [] });
    // The node client's default body (C.2) is accepted as is.
    const body = { mediaMode: 'ROUTED', recordingMode: 'MANUAL', customSessionId: '', defaultRecordingProperties: { name: '', hasAudio: true, hasVideo: true, outputMode: 'COMPOSED', recordingLayout: 'BEST_FIT', resolution: '1280x720', frameRate: 25, shmSize: 536870912 } };
    const s2 = (await expect(200, 'POST', '/openvidu/api/sessions', { body })).json;
    assert.notEqual(s2.id, s.id);
    // No body at all is accepted too.
    const s3 = (await expect(200, 'POST', '/openvidu/api/sessions')).json;
    assert.match(s3.id, /^ses_/);
  }));

  it('POST /sessions with a bad body answers 400; a duplicate customSessionId 409', withLog(async () => {
    const bad = [
      { rawBody: '{"mediaMode":' },
      { rawBody: '[1,2]' },
      { body: { recordingMode: false } },
      { body: { customSessionId: 999 } },
      { body: { mediaMode: 'SOMETIMES' } },
      { body: { recordingMode: 'NEVER' } },
      { body: { customSessionId: 'has spaces' } },
      { body: { customSessionId: 'a/b' } },
      { body: { forcedVideoCodec: 'MPEG2' } },
      { body: { allowTranscoding: 'yes' } },
    ];
    await expectAll400('POST', '/openvidu/api/sessions', bad);
    const id = `dup_${uniq()}`;
    const s = await newSession({ customSessionId: id, recordingMode: 'MANUAL' });
    assert.equal(s.id, id);
    assert.equal(s.sessionId, id);
    assert.equal(s.customSessionId, id);
    await expect(409, 'POST', '/openvidu/api/sessions', { body: { customSessionId: id } });
    // Allowed characters: [a-zA-Z0-9_-]
    await newSession({ customSessionId: `Ok-Id_${uniq()}` });
  }));

  it('GET /sessions and /sessions/{id} honour pendingConnections', withLog(async () => {
    const s = await newSession();
    const c = await newConnection(s.id, { data: 'pend' });
    let r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}`);
    assert.equal(r.json.id, s.id);
    assert.equal(r.json.sessionId, s.id);
    assert.equal(r.json.connections.numberOfElements, 0, 'pending connections are hidden by default');
    assert.deepEqual(r.json.connections.content, []);
    r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}?pendingConnections=true`);
    assert.equal(r.json.connections.numberOfElements, 1);
    assert.equal(r.json.connections.content[0].connectionId, c.connectionId);
    r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}?pendingConnections=false`);
    assert.equal(r.json.connections.numberOfElements, 0);

    r = await expect(200, 'GET', '/openvidu/api/sessions');
    assert.equal(typeof r.json.numberOfElements, 'number');
    assert.equal(r.json.numberOfElements, r.json.content.length);
    const listed = r.json.content.find((x) => x.id === s.id);
    assert.ok(listed, 'a never-joined session is listed');
    assert.equal(listed.connections.numberOfElements, 0);
    r = await expect(200, 'GET', '/openvidu/api/sessions?pendingConnections=true');
    assert.equal(r.json.content.find((x) => x.id === s.id).connections.numberOfElements, 1);

    await expect(404, 'GET', '/openvidu/api/sessions/ses_NotThere123');
    await expect(404, 'DELETE', '/openvidu/api/sessions/ses_NotThere123');
  }));

  it('POST /sessions/{id}/connection returns a pending Connection (C.4.2); bad bodies 400, unknown session 404', withLog(async () => {
    const s = await newSession();
    // The node client's body for createConnection() with no properties: all nulls mean defaults.
    const allNull = { type: null, data: null, record: null, role: null, kurentoOptions: null, rtspUri: null, adaptativeBitrate: null, onlyPlayWithSubscribers: null, networkCache: null, customIceServers: null };
    const c = await newConnection(s.id, allNull);
    assert.match(c.id, /^con_[A-Z][A-Za-z0-9]{9}$/);
    assert.equal(c.connectionId, c.id);
    assert.equal(c.object, 'connection');
    assert.equal(c.type, 'WEBRTC');
    assert.equal(c.status, 'pending');
    assert.equal(c.sessionId, s.id);
    assert.equal(typeof c.createdAt, 'number');
    assert.equal(c.role, 'PUBLISHER');
    assert.equal(c.record, true);
    assert.equal(c.serverData, '');
    for (const k of ['activeAt', 'location', 'ip', 'platform', 'clientData', 'publishers', 'subscribers']) {
      assert.ok(k in c, `pending connection lacks "${k}"`);
      assert.equal(c[k], null, `pending connection: "${k}" should be null`);
    }
    const u = new URL(c.token);
    assert.equal(u.protocol, 'ws:');
    assert.equal(u.host, `127.0.0.1:${server.port}`);
    assert.equal(u.searchParams.get('sessionId'), s.id);
    assert.match(u.searchParams.get('token'), /^tok_[A-Z][A-Za-z0-9]{15}$/);

    const sub = await newConnection(s.id, { type: 'WEBRTC', role: 'SUBSCRIBER', data: 'srv', record: false });
    assert.equal(sub.role, 'SUBSCRIBER');
    assert.equal(sub.serverData, 'srv');
    assert.equal(sub.record, false);
    const mod = await newConnection(s.id, { role: 'MODERATOR' });
    assert.equal(mod.role, 'MODERATOR');
    const ice = await newConnection(s.id, { customIceServers: [{ url: 'stun:127.0.0.1:3478' }, { url: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }] });
    assert.deepEqual(ice.customIceServers.map((x) => x.url), ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478'], `customIceServers: ${JSON.stringify(ice.customIceServers)}`);

    const bad = [
      { rawBody: '{"role":' },
      { body: { role: 'KING' } },
      { body: { role: 7 } },
      { body: { data: 5 } },
      { body: { record: 'yes' } },
      { body: { type: 'CARRIER_PIGEON' } },
      { body: { customIceServers: [{ url: 'http://example.com' }] } },
    ];
    await expectAll400('POST', `/openvidu/api/sessions/${s.id}/connection`, bad);
    await expect(404, 'POST', '/openvidu/api/sessions/ses_NotThere123/connection', { body: {} });
  }));

  it('GET/DELETE /sessions/{id}/connection[/{cid}] (400 unknown session, 404 unknown connection)', withLog(async () => {
    const s = await newSession();
    const a = await newConnection(s.id, { data: 'a' });
    const b = await newConnection(s.id, { data: 'b' });
    let r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}/connection`);
    assert.equal(r.json.numberOfElements, 2, 'connection list includes pending ones by default');
    assert.deepEqual(r.json.content.map((x) => x.connectionId).sort(), [a.connectionId, b.connectionId].sort());
    r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}/connection/${a.connectionId}`);
    assert.equal(r.json.connectionId, a.connectionId);
    assert.equal(r.json.serverData, 'a');
    await expect(404, 'GET', `/openvidu/api/sessions/${s.id}/connection/con_NotThere12`);
    await expect(400, 'GET', `/openvidu/api/sessions/ses_NotThere123/connection/${a.connectionId}`);
    await expect(404, 'GET', '/openvidu/api/sessions/ses_NotThere123/connection');

    await expect(204, 'DELETE', `/openvidu/api/sessions/${s.id}/connection/${a.connectionId}`);
    await expect(404, 'GET', `/openvidu/api/sessions/${s.id}/connection/${a.connectionId}`);
    await expect(404, 'DELETE', `/openvidu/api/sessions/${s.id}/connection/${a.connectionId}`);
    await expect(400, 'DELETE', `/openvidu/api/sessions/ses_NotThere123/connection/${b.connectionId}`);
    r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}/connection`);
    assert.equal(r.json.numberOfElements, 1);
  }));

  it('DELETE /sessions/{id}/stream/{streamId}: 400 unknown session, 404 unknown stream', withLog(async () => {
    const s = await newSession();
    await newConnection(s.id);
    await expect(404, 'DELETE', `/openvidu/api/sessions/${s.id}/stream/str_CAM_Abcd_con_Nope123456`);
    await expect(400, 'DELETE', '/openvidu/api/sessions/ses_NotThere123/stream/str_CAM_Abcd_con_Nope123456');
  }));

  it('POST /tokens returns the Token object (C.4.4); 400 without session, 404 unknown session', withLog(async () => {
    const s = await newSession();
    const t = (await expect(200, 'POST', '/openvidu/api/tokens', { body: { session: s.id, role: 'SUBSCRIBER', data: 'd', kurentoOptions: null } })).json;
    assert.equal(typeof t.token, 'string');
    assert.equal(t.id, t.token);
    assert.match(t.connectionId, /^con_/);
    assert.equal(t.session, s.id);
    assert.equal(t.role, 'SUBSCRIBER');
    assert.equal(t.data, 'd');
    assert.equal(typeof t.createdAt, 'number');
    assert.equal(new URL(t.token).searchParams.get('sessionId'), s.id);
    const d = (await expect(200, 'POST', '/openvidu/api/tokens', { body: { session: s.id, role: null, data: null, kurentoOptions: null } })).json;
    assert.equal(d.role, 'PUBLISHER');
    // The token is a pending connection.
    const r = await expect(200, 'GET', `/openvidu/api/sessions/${s.id}/connection/${t.connectionId}`);
    assert.equal(r.json.token, t.token);

    await expect(400, 'POST', '/openvidu/api/tokens', { body: {} });
    await expect(400, 'POST', '/openvidu/api/tokens', { body: { session: s.id, role: 'KING' } });
    await expect(400, 'POST', '/openvidu/api/tokens', { rawBody: 'not json' });
    await expect(404, 'POST', '/openvidu/api/tokens', { body: { session: 'ses_NotThere123' } });
  }));

  it('GET /config returns the flat configuration object', withLog(async () => {
    const r = await expect(200, 'GET', '/openvidu/api/config');
    const c = r.json;
    assert.equal(typeof c, 'object');
    assert.match(String(c.VERSION), /^2\.\d+\.\d+/, 'VERSION is a full 2.x semver');
    for (const k of ['VERSION', 'DOMAIN_OR_PUBLIC_IP', 'HTTPS_PORT', 'OPENVIDU_PUBLICURL', 'OPENVIDU_CDR',
      'OPENVIDU_STREAMS_VIDEO_MAX_RECV_BANDWIDTH', 'OPENVIDU_STREAMS_VIDEO_MIN_RECV_BANDWIDTH',
      'OPENVIDU_STREAMS_VIDEO_MAX_SEND_BANDWIDTH', 'OPENVIDU_STREAMS_VIDEO_MIN_SEND_BANDWIDTH',
      'OPENVIDU_STREAMS_FORCED_VIDEO_CODEC', 'OPENVIDU_STREAMS_ALLOW_TRANSCODING',
      'OPENVIDU_SESSIONS_GARBAGE_INTERVAL', 'OPENVIDU_SESSIONS_GARBAGE_THRESHOLD', 'OPENVIDU_RECORDING', 'OPENVIDU_WEBHOOK']) {
      assert.ok(k in c, `config lacks ${k}: ${r.text}`);
    }
    assert.equal(c.OPENVIDU_RECORDING, false);
    assert.ok(String(c.OPENVIDU_PUBLICURL).includes(`127.0.0.1:${server.port}`), `OPENVIDU_PUBLICURL ${c.OPENVIDU_PUBLICURL}`);
  }));

  it('POST /signal validates its body: 400 bad body, 404 unknown session, 406 no participants', withLog(async () => {
    const s = await newSession();
    await newConnection(s.id);
    await expect(400, 'POST', '/openvidu/api/signal', { body: {} });
    await expect(400, 'POST', '/openvidu/api/signal', { body: { session: s.id, to: 12 } });
    await expect(400, 'POST', '/openvidu/api/signal', { body: { session: s.id, data: false } });
    await expect(400, 'POST', '/openvidu/api/signal', { body: { session: s.id, type: 5 } });
    await expect(400, 'POST', '/openvidu/api/signal', { rawBody: '{"session":' });
    await expect(404, 'POST', '/openvidu/api/signal', { body: { session: 'ses_NotThere123', type: 'x', data: 'y' } });
    await expect(406, 'POST', '/openvidu/api/signal', { body: { session: s.id, type: 'x', data: 'y' } });
  }));

  it('recording and broadcast endpoints answer 501 (recording disabled)', withLog(async () => {
    const s = await newSession();
    await expect(501, 'POST', '/openvidu/api/recordings/start', { body: { session: s.id } });
    await expect(501, 'POST', `/openvidu/api/recordings/stop/${s.id}`);
    await expect(501, 'GET', `/openvidu/api/recordings/${s.id}`);
    await expect(501, 'GET', '/openvidu/api/recordings');
    await expect(501, 'DELETE', `/openvidu/api/recordings/${s.id}`);
    await expect(501, 'POST', '/openvidu/api/broadcast/start', { body: { session: s.id, broadcastUrl: 'rtmp://127.0.0.1/live' } });
    await expect(501, 'POST', '/openvidu/api/broadcast/stop', { body: { session: s.id } });
  }));

  it('DELETE /sessions/{id} answers 204 for a never-joined session and removes it', withLog(async () => {
    const s = await newSession();
    const c = await newConnection(s.id);
    await expect(204, 'DELETE', `/openvidu/api/sessions/${s.id}`);
    await expect(404, 'GET', `/openvidu/api/sessions/${s.id}`);
    await expect(404, 'POST', `/openvidu/api/sessions/${s.id}/connection`, { body: {} });
    const list = (await expect(200, 'GET', '/openvidu/api/sessions')).json;
    assert.ok(!list.content.some((x) => x.id === s.id));
    assert.ok(c.token);
  }));
});

describe('REST API with --public-url and --unused-session-timeout', () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--public-url', 'https://media.example.com:9999/', '--unused-session-timeout', '1'] });
  });
  after(async () => { if (server) await server.stop(); });

  it('tokens and OPENVIDU_PUBLICURL point at --public-url (https -> wss, no trailing slash)', async () => {
    const s = (await rest(server, 'POST', '/openvidu/api/sessions', { body: {} })).json;
    const r = await rest(server, 'POST', `/openvidu/api/sessions/${s.id}/connection`, { body: {} });
    assert.equal(r.status, 200, describeResponse('POST', '.../connection', r));
    assert.ok(r.json.token.startsWith(`wss://media.example.com:9999?sessionId=${s.id}&token=tok_`), r.json.token);
    const c = await rest(server, 'GET', '/openvidu/api/config');
    assert.match(String(c.json.OPENVIDU_PUBLICURL), /^https:\/\/media\.example\.com:9999\/?$/, c.text);
  });

  it('a session that nobody joins is collected after --unused-session-timeout', async () => {
    const s = (await rest(server, 'POST', '/openvidu/api/sessions', { body: {} })).json;
    const c = (await rest(server, 'POST', `/openvidu/api/sessions/${s.id}/connection`, { body: {} })).json;
    await waitFor(async () => (await rest(server, 'GET', `/openvidu/api/sessions/${s.id}`)).status === 404,
      { timeoutMs: 30000, intervalMs: 250, what: `session ${s.id} to be collected` });
    const t = await rest(server, 'POST', '/openvidu/api/tokens', { body: { session: s.id } });
    assert.equal(t.status, 404, describeResponse('POST', '/openvidu/api/tokens', t));
    assert.ok(c.token);
  });
});
