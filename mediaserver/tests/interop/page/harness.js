// Drives the unmodified openvidu-browser from Playwright. Every method returns plain JSON
// ({ok: true, ...} or {ok: false, error: {name, message, code}}) and every library event is
// recorded in H.events, which the test polls with deadlines.
(function () {
  'use strict';
  const H = (window.H = { events: [], subscribers: {}, autoSubscribe: true, version: null });

  function ev(type, detail) {
    H.events.push(Object.assign({ type: type, at: Date.now() }, detail || {}));
  }
  function err(e) {
    if (!e) return { name: 'unknown', message: String(e) };
    return {
      name: e.name || null,
      message: typeof e.message === 'string' ? e.message : JSON.stringify(e.message || e),
      code: e.code !== undefined ? e.code : null,
    };
  }
  function connId(c) {
    return c ? c.connectionId : null;
  }
  window.addEventListener('error', (e) => ev('pageError', { message: String(e.message) }));
  window.addEventListener('unhandledrejection', (e) => ev('unhandledRejection', { message: String(e.reason && (e.reason.message || e.reason)) }));

  H.connect = async function (token, clientData) {
    try {
      const ov = (H.ov = new OpenVidu());
      H.version = ov.libraryVersion || null;
      if (typeof ov.enableProdMode === 'function') ov.enableProdMode();
      const session = (H.session = ov.initSession());
      session.on('connectionCreated', (e) => ev('connectionCreated', { connectionId: connId(e.connection), data: e.connection.data }));
      session.on('connectionDestroyed', (e) => ev('connectionDestroyed', { connectionId: connId(e.connection), reason: e.reason }));
      session.on('streamCreated', (e) => {
        ev('streamCreated', { streamId: e.stream.streamId, connectionId: connId(e.stream.connection) });
        if (H.autoSubscribe) H.subscribe(e.stream.streamId);
      });
      session.on('streamDestroyed', (e) => ev('streamDestroyed', { streamId: e.stream.streamId, connectionId: connId(e.stream.connection), reason: e.reason }));
      session.on('sessionDisconnected', (e) => ev('sessionDisconnected', { reason: e.reason }));
      session.on('signal', (e) => ev('signal', { signalType: e.type, data: e.data, from: connId(e.from) }));
      session.on('exception', (e) => ev('exception', { name: e.name, message: e.message }));
      session.on('streamPropertyChanged', (e) => ev('streamPropertyChanged', {
        streamId: e.stream.streamId, property: e.changedProperty, newValue: e.newValue, oldValue: e.oldValue, reason: e.reason,
      }));
      session.on('reconnecting', () => ev('reconnecting'));
      session.on('reconnected', () => ev('reconnected'));
      await session.connect(token, clientData || '');
      return { ok: true, connectionId: session.connection.connectionId, role: session.connection.role, sessionId: session.sessionId };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  H.findStream = function (streamId) {
    const s = H.session;
    const rc = s.remoteConnections;
    for (const c of rc instanceof Map ? rc.values() : Object.values(rc || {})) {
      if (c.stream && c.stream.streamId === streamId) return c.stream;
    }
    return null;
  };

  H.subscribe = function (streamId) {
    const stream = H.findStream(streamId);
    if (!stream) {
      ev('subscribeError', { streamId: streamId, error: { name: 'test', message: 'no such stream in session.remoteConnections' } });
      return { ok: false };
    }
    const div = document.createElement('div');
    div.id = 'sub-' + streamId;
    document.getElementById('subscribers').appendChild(div);
    const sub = H.session.subscribe(stream, div, { subscribeToAudio: true, subscribeToVideo: true }, (e) => {
      if (e) ev('subscribeError', { streamId: streamId, error: err(e) });
      else ev('subscribed', { streamId: streamId });
    });
    H.subscribers[streamId] = sub;
    return { ok: true };
  };

  H.publish = async function (opts) {
    try {
      const div = document.getElementById('publisher');
      const pub = (H.publisher = await H.ov.initPublisherAsync(div, Object.assign({
        publishAudio: true, publishVideo: true, resolution: '320x240', frameRate: 15, mirror: false,
      }, opts || {})));
      pub.on('streamDestroyed', (e) => ev('publisherStreamDestroyed', { streamId: e.stream.streamId, reason: e.reason }));
      await H.session.publish(pub);
      return { ok: true, streamId: pub.stream.streamId };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  H.unpublish = async function () {
    try {
      await H.session.unpublish(H.publisher);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  H.signal = async function (to, type, data) {
    try {
      const targets = (to || []).map((id) => {
        if (id === H.session.connection.connectionId) return H.session.connection;
        const c = H.session.remoteConnections instanceof Map ? H.session.remoteConnections.get(id) : H.session.remoteConnections[id];
        if (!c) throw new Error('unknown connection ' + id);
        return c;
      });
      await H.session.signal({ to: targets, type: type, data: data });
      return { ok: true };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  function remoteConnection(id) {
    const rc = H.session.remoteConnections;
    return rc instanceof Map ? rc.get(id) : rc[id];
  }

  H.forceDisconnect = async function (connectionId) {
    try {
      const c = remoteConnection(connectionId);
      if (!c) throw new Error('unknown connection ' + connectionId);
      await H.session.forceDisconnect(c);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  H.forceUnpublish = async function (streamId) {
    try {
      const s = H.findStream(streamId);
      if (!s) throw new Error('unknown stream ' + streamId);
      await H.session.forceUnpublish(s);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  H.publishAudio = function (on) {
    H.publisher.publishAudio(on);
    return { ok: true };
  };

  H.publishVideo = function (on) {
    H.publisher.publishVideo(on);
    return { ok: true };
  };

  // Drops the signaling WebSocket the way a network blip does: the library reopens it with
  // `reconnect=true` and sends `connect` with its RPC session id.
  H.reconnectSocket = function () {
    H.ov.jsonRpcClient.reconnect();
    return { ok: true };
  };

  H.unsubscribe = async function (streamId) {
    try {
      await H.session.unsubscribe(H.subscribers[streamId]);
      delete H.subscribers[streamId];
      return { ok: true };
    } catch (e) {
      return { ok: false, error: err(e) };
    }
  };

  // One JSON-RPC request through the library's own client (its framing, ids and timeouts).
  H.rawRequest = function (method, params) {
    return new Promise((resolve) => {
      H.ov.sendRequest(method, params || {}, (error, result) => {
        resolve(error ? { ok: false, error: { code: error.code, message: String(error.message) } } : { ok: true, result: result });
      });
    });
  };

  // Keeps the signaling socket busy: an `echo` request every few milliseconds until stopped.
  H.chatter = function (on) {
    clearInterval(H.chatterTimer);
    if (on) H.chatterTimer = setInterval(() => H.ov.sendRequest('echo', {}, () => {}), 2);
    return { ok: true };
  };

  H.disconnect = function () {
    H.session.disconnect();
    return { ok: true };
  };

  // What the subscriber of `streamId` receives: the video element's size and inbound RTP stats.
  H.stats = async function (streamId) {
    const sub = H.subscribers[streamId];
    const out = { videoWidth: 0, videoHeight: 0, framesDecoded: 0, videoPackets: 0, videoCodec: null, audioPackets: 0, audioBytes: 0, iceState: null };
    if (!sub) return out;
    const video = document.querySelector('#sub-' + CSS.escape(streamId) + ' video');
    if (video) {
      out.videoWidth = video.videoWidth;
      out.videoHeight = video.videoHeight;
    }
    let pc = null;
    try {
      pc = sub.stream.getRTCPeerConnection(); // throws while the subscription has no peer connection
    } catch (e) {
      pc = null;
    }
    if (!pc) return out;
    out.iceState = pc.iceConnectionState;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const kind = s.kind || s.mediaType;
      if (kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
        out.videoPackets += s.packetsReceived || 0;
        const codec = s.codecId && report.get(s.codecId);
        if (codec) out.videoCodec = codec.mimeType;
      } else if (kind === 'audio') {
        out.audioPackets += s.packetsReceived || 0;
        out.audioBytes += s.bytesReceived || 0;
      }
    });
    return out;
  };

  // The publisher's outgoing video encodings (simulcast layers show up as several rids).
  H.publisherStats = async function () {
    const pc = H.publisher.stream.getRTCPeerConnection();
    const report = await pc.getStats();
    const layers = [];
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && (s.kind || s.mediaType) === 'video') {
        layers.push({ rid: s.rid || null, framesEncoded: s.framesEncoded || 0, width: s.frameWidth || 0, active: s.active !== false });
      }
    });
    return { layers: layers };
  };

  // Turns the publisher's simulcast layer `index` (in the order it sends them, lowest first) off or
  // on, as a browser does by itself when bandwidth or CPU runs short.
  H.setLayerActive = async function (index, active) {
    const pc = H.publisher.stream.getRTCPeerConnection();
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings[index]) return { ok: false, error: 'no such layer' };
    params.encodings[index].active = active;
    await sender.setParameters(params);
    return { ok: true, rids: params.encodings.map((e) => e.rid || null) };
  };

  H.ready = true;
})();
