// Media variants with the real openvidu-browser 2.32.2 in Chromium: forced video codecs
// (VP8, H.264, forwarded without transcoding), simulcast, and audio-only / video-only publishers.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, waitFor } from '../lib/server.js';
import { startPageServer, launchBrowser, openParticipant, waitForMedia, waitForRising } from '../lib/browser.js';
import { within, quietLibraryLogs, appendToError } from '../lib/util.js';

const require = createRequire(import.meta.url);
quietLibraryLogs(); // before loading the libraries
const { OpenVidu } = require('ovnode32');
const VERSION = '2.32.2';

describe(`media variants (openvidu-browser ${VERSION})`, () => {
  let server, pageServer, browser, ov;
  const open = new Set();

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

  // Two participants of a new session: `pub` publishes with `publisherOptions`, `sub` subscribes.
  async function pair(sessionProps, publisherOptions) {
    const session = await within(ov.createSession(sessionProps), 10000, 'createSession');
    const pub = await openParticipant(browser, pageServer, VERSION, 'pub');
    open.add(pub);
    const sub = await openParticipant(browser, pageServer, VERSION, 'sub');
    open.add(sub);
    for (const [p, role] of [[pub, 'PUBLISHER'], [sub, 'SUBSCRIBER']]) {
      const c = await within(session.createConnection({ role }), 10000, 'createConnection');
      const r = await p.connect(c.token);
      assert.ok(r.ok, `${p.name} connect: ${JSON.stringify(r.error)}`);
    }
    const r = await pub.publish(publisherOptions);
    assert.ok(r.ok, `publish: ${JSON.stringify(r.error)}`);
    await sub.waitEvent({ type: 'streamCreated', streamId: r.streamId });
    return { session, pub, sub, streamId: r.streamId };
  }

  before(async () => {
    server = await startServer();
    pageServer = await startPageServer();
    browser = await launchBrowser();
    ov = new OpenVidu(server.url, server.secret);
  });
  after(async () => {
    for (const p of open) await p.close();
    if (browser) await browser.close().catch(() => {});
    if (pageServer) await pageServer.close();
    if (server) await server.stop();
  });

  for (const codec of ['VP8', 'H264']) {
    it(`forcedVideoCodec ${codec}: the subscriber decodes ${codec}`, step(async () => {
      const { sub, streamId } = await pair({ forcedVideoCodec: codec }, {});
      const stats = await waitForMedia(sub, streamId);
      assert.equal(stats.videoCodec, `video/${codec}`, JSON.stringify(stats));
    }));
  }

  it('a simulcast publisher (videoSimulcast): the subscriber decodes frames', step(async () => {
    const { pub, sub, streamId } = await pair({}, { videoSimulcast: true, resolution: '640x480', frameRate: 15 });
    const stats = await waitForMedia(sub, streamId);
    assert.ok(stats.videoWidth > 0, JSON.stringify(stats));
    // The browser really sends several layers (else this would only repeat the plain case).
    const sent = await waitFor(async () => {
      const { layers } = await pub.publisherStats();
      return layers.filter((l) => l.rid && l.framesEncoded > 0).length >= 2 ? layers : null;
    }, { timeoutMs: 20000, intervalMs: 250, what: 'the publisher to send at least two simulcast layers' });
    assert.ok(sent.length >= 2, JSON.stringify(sent));
  }));

  it('a simulcast layer that stops and comes back: the subscriber switches down and up, decoding on', step(async () => {
    // The SFU forwards RTP packets as they come and renumbers each layer to follow on from the one
    // before it (sequence numbers, timestamps, VP8 picture ids): a browser whose stream jumped would
    // stall until its next keyframe, or show nothing.
    const { pub, sub, streamId } = await pair({}, { videoSimulcast: true, resolution: '640x480', frameRate: 15 });
    await waitForMedia(sub, streamId);
    const sending = await waitFor(async () => {
      const { layers } = await pub.publisherStats();
      const on = layers.filter((l) => l.rid && l.framesEncoded > 0 && l.width > 0);
      return on.length >= 2 ? on : null;
    }, { timeoutMs: 20000, intervalMs: 250, what: 'the publisher to send at least two simulcast layers' });
    const top = sending.reduce((a, b) => (b.width > a.width ? b : a));
    const { rids } = await pub.setLayerActive(0, true);
    const index = rids.indexOf(top.rid);
    assert.ok(index >= 0, `layer ${top.rid} among ${JSON.stringify(rids)}`);
    const shows = (what, test) => async () => {
      const first = await waitFor(async () => {
        const s = await sub.stats(streamId);
        return test(s.videoWidth) ? s : null;
      }, { timeoutMs: 30000, intervalMs: 250, what: `the subscriber to show ${what}` });
      return waitFor(async () => {
        const s = await sub.stats(streamId);
        return test(s.videoWidth) && s.framesDecoded >= first.framesDecoded + 15 ? s : null;
      }, { timeoutMs: 30000, intervalMs: 250, what: `the subscriber to keep decoding ${what}` });
    };
    await shows(`the top layer (${top.width} wide)`, (w) => w === top.width)();
    assert.ok((await pub.setLayerActive(index, false)).ok);
    await shows('a lower layer', (w) => w > 0 && w < top.width)();
    assert.ok((await pub.setLayerActive(index, true)).ok);
    await shows('the top layer again', (w) => w === top.width)();
  }));

  it('an audio-only publisher: audio arrives, the node client sees hasVideo false', step(async () => {
    const { session, sub, streamId } = await pair({}, { videoSource: false, publishVideo: false });
    const stats = await waitForRising(sub, streamId, ['audioPackets']);
    assert.equal(stats.videoPackets, 0);
    await within(session.fetch(), 10000, 'session.fetch');
    const pub = session.activeConnections.flatMap((c) => c.publishers).find((p) => p.streamId === streamId);
    assert.ok(pub, 'publisher not listed');
    assert.equal(pub.hasAudio, true);
    assert.equal(pub.hasVideo, false);
  }));

  it('a video-only publisher: frames are decoded, the node client sees hasAudio false', step(async () => {
    const { session, sub, streamId } = await pair({}, { audioSource: false, publishAudio: false });
    const stats = await waitForRising(sub, streamId, ['framesDecoded']);
    assert.ok(stats.videoWidth > 0, JSON.stringify(stats));
    assert.equal(stats.audioPackets, 0);
    await within(session.fetch(), 10000, 'session.fetch');
    const pub = session.activeConnections.flatMap((c) => c.publishers).find((p) => p.streamId === streamId);
    assert.ok(pub, 'publisher not listed');
    assert.equal(pub.hasAudio, false);
    assert.equal(pub.hasVideo, true);
  }));
});
