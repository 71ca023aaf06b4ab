/**
 * WHEP playback in a real browser: ffmpeg publishes H.264 baseline + AAC to the all-in-one; a
 * plain page (served by this test, no project code) makes a recvonly RTCPeerConnection, POSTs its
 * offer to /<app>/<name>/whep and plays the answer. The video element must decode frames with
 * advancing time and an audio track (Opus, transcoded from AAC once per stream) must be there.
 * The protocol's error answers and the session bookkeeping are checked over plain HTTP, and ten
 * viewers of the benchmark's C WHEP client (bench/whep-swarm.c: ICE, DTLS-SRTP, SRTCP receiver
 * reports, no browser) must receive every video packet.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildC } from '../bench/lib.ts';
import { signedQuery } from '../core/signing.ts';
import { launchChromium, noChromium } from './helpers/browser.ts';
import {
  killAll,
  publish,
  type RelaycastProcess,
  run,
  startClusterNode,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';

/** The whole player: what any WHEP client does, nothing from this project. */
const PAGE = `<!doctype html><html><body><video id="v" autoplay muted playsinline></video><script>
window.play = async (url, bearer) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const media = new MediaStream();
  const video = document.getElementById('v');
  pc.ontrack = (e) => { media.addTrack(e.track); video.srcObject = media; };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const headers = { 'Content-Type': 'application/sdp' };
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  const res = await fetch(url, { method: 'POST', headers, body: offer.sdp });
  if (res.status !== 201) throw new Error('WHEP POST answered ' + res.status + ': ' + await res.text());
  window.whepLocation = new URL(res.headers.get('Location'), url).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  window.pc = pc;
  return window.whepLocation;
};
window.state = () => {
  const v = document.getElementById('v');
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : { totalVideoFrames: 0 };
  const tracks = v.srcObject ? v.srcObject.getTracks().map((t) => t.kind) : [];
  return { frames: q.totalVideoFrames, t: v.currentTime, tracks, ice: window.pc ? window.pc.iceConnectionState : 'none', w: v.videoWidth };
};
</script></body></html>`;

/** A metric summed over its series; with `reason`, only the series of that reason label (0 when absent). */
async function metric(rc: RelaycastProcess, name: string, reason?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (
      (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) &&
      (reason === undefined || line.includes(`reason="${reason}"`))
    )
      sum += Number(line.split(' ').pop());
  return sum;
}

async function postOffer(url: string, body: string, type = 'application/sdp') {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: () => JSON.parse(text) as { error: { code: string; message: string } },
  };
}

const skip = noChromium;
let browser: Browser;
let pageServer: Server;
let pageUrl: string;
before(async () => {
  if (skip) return;
  pageServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(PAGE);
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
  const addr = pageServer.address();
  pageUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  pageServer?.close();
  await killAll();
});

type PlayerState = { frames: number; t: number; tracks: string[]; ice: string; w: number };

/** Frames decoded and time advancing on `page`, past `since` when given. */
function advancing(page: Page, since?: PlayerState, what = 'decoded video frames'): Promise<PlayerState> {
  return waitFor(
    what,
    async () => {
      const st = (await page.evaluate('window.state()')) as PlayerState;
      return st.frames > (since?.frames ?? 0) + 10 && st.t > (since?.t ?? 0) + 0.5 ? st : undefined;
    },
    60_000,
    250,
  );
}

describe('WebRTC playback (WHEP)', { timeout: 240_000, skip }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all');
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/rtc`, {
      size: '640x360',
      extra: ['-profile:v', 'baseline', '-bf', '0'],
    });
    await waitFor(
      'the stream to be live',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/rtc.m3u8`)).status === 200 ? true : undefined,
      30_000,
      300,
    );
  });
  after(killAll);

  async function openPlayer(): Promise<{ page: Page; location: string }> {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    const location = (await page.evaluate(
      `window.play('http://127.0.0.1:${rc.ports.http}/live/rtc/whep')`,
    )) as string;
    return { page, location };
  }

  it('plays video with advancing time and carries an audio track', async () => {
    const { page, location } = await openPlayer();
    assert.match(location, /\/live\/rtc\/whep\/[0-9a-f]{24}$/);
    type State = { frames: number; t: number; tracks: string[]; ice: string; w: number };
    const first = await waitFor(
      'decoded video frames',
      async () => {
        const s = (await page.evaluate('window.state()')) as State;
        return s.frames > 10 && s.t > 0 ? s : undefined;
      },
      45_000,
      250,
    );
    const later = await waitFor(
      'more frames and later time',
      async () => {
        const s = (await page.evaluate('window.state()')) as State;
        return s.frames > first.frames + 30 && s.t > first.t + 1 ? s : undefined;
      },
      30_000,
      250,
    );
    assert.equal(later.w, 640);
    assert.ok(later.tracks.includes('audio'), `tracks: ${later.tracks.join(',')}`);
    assert.ok(later.tracks.includes('video'));
    // Opus really flows: the browser's inbound audio RTP counts packets.
    const audioPackets = await waitFor(
      'inbound Opus packets',
      async () => {
        const n = (await page.evaluate(
          "(async () => { let n = 0; (await window.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived; }); return n; })()",
        )) as number;
        return n > 25 ? n : undefined;
      },
      30_000,
      500,
    );
    assert.ok(audioPackets > 25);
    assert.equal(await metric(rc, 'relaycast_webrtc_sessions'), 1);
    assert.ok((await metric(rc, 'relaycast_webrtc_packets_sent_total')) > 0);
    // DELETE on the Location ends the session and frees it.
    const del = await fetch(location, { method: 'DELETE' });
    assert.equal(del.status, 200);
    await waitFor(
      'the session gauge back to 0',
      async () => ((await metric(rc, 'relaycast_webrtc_sessions')) === 0 ? true : undefined),
      10_000,
      200,
    );
    const again = await fetch(location, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal(
      ((await again.json()) as { error: { code: string } }).error.code,
      'RC_WEBRTC_SESSION_NOT_FOUND',
    );
    await page.close();
  });

  it('10 viewers of the C WHEP swarm (bench/whep-swarm.c): ICE, DTLS-SRTP, video and audio with no sequence gap; their SRTCP receiver reports keep the sessions up; DELETE ends them', async () => {
    const deleted = await metric(rc, 'relaycast_webrtc_session_ends_total', 'deleted');
    // longer than the server's 15 s RTCP silence limit (WHEP_SILENCE_TIMEOUT_MS): a receiver report
    // the server could not decrypt or authenticate would end every session as viewer-gone
    const r = await run(
      buildC('whep-swarm', ['-lssl', '-lcrypto'], 'libssl-dev'),
      [
        ...['--url', `http://127.0.0.1:${rc.ports.http}/live/rtc/whep`, '--viewers', '10', '--ramp', '1'],
        ...['--duration', '19', '--recent', '3'],
      ],
      90_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    const out = r.stdout;
    assert.deepEqual(res.failures, {}, out);
    assert.equal(res.answered, 10, out);
    assert.equal(res.withVideo, 10, out);
    // still receiving video and audio in the last 3 s, 20 s after the first POST
    assert.equal(res.recentVideo, 10, out);
    assert.equal(res.recentAudio, 10, out);
    assert.equal(res.videoPacketsLost, 0, out);
    assert.ok((res.receiverReportsSent as number) >= 10 * 15, out);
    assert.equal(await metric(rc, 'relaycast_webrtc_session_ends_total', 'viewer-gone'), 0);
    await waitFor(
      "the swarm's DELETEs to end its sessions",
      async () => ((await metric(rc, 'relaycast_webrtc_sessions')) === 0 ? true : undefined),
      20_000,
      250,
    );
    assert.equal(await metric(rc, 'relaycast_webrtc_session_ends_total', 'deleted'), deleted + 10);
  });

  it('answers bad offers, unknown streams and preflights the way WHEP clients expect', async () => {
    const base = `http://127.0.0.1:${rc.ports.http}/live`;
    const garbage = await postOffer(`${base}/rtc/whep`, 'hello, not SDP');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.json().error.code, 'RC_WEBRTC_SDP_INVALID');
    const wrongType = await postOffer(`${base}/rtc/whep`, 'v=0\r\n', 'text/plain');
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json().error.code, 'RC_WEBRTC_SDP_INVALID');
    // A real offer from the browser, but for a stream nobody publishes: 404.
    const page = await browser.newPage();
    await page.goto(pageUrl);
    const offer = (await page.evaluate(
      "(async () => { const pc = new RTCPeerConnection(); pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' }); const o = await pc.createOffer(); pc.close(); return o.sdp; })()",
    )) as string;
    await page.close();
    const missing = await postOffer(`${base}/nobody/whep`, offer);
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error.code, 'RC_PLAY_NOT_FOUND');
    // An offer whose video has no H.264: 406 with the reason.
    const vp8Only = offer
      .split('\r\n')
      .filter((l) => !/^a=(rtpmap|fmtp|rtcp-fb):\d+ /.test(l) || !/H264|apt=|profile-level-id/.test(l))
      .join('\r\n');
    const noH264 = await postOffer(`${base}/rtc/whep`, vp8Only.replace(/H264/g, 'VP8'));
    assert.equal(noH264.status, 406);
    assert.equal(noH264.json().error.code, 'RC_WEBRTC_CODEC_UNSUPPORTED');
    // Browser preflight.
    const pre = await fetch(`${base}/rtc/whep`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-expose-headers') ?? '', /Location/);
  });

  it('ends a session whose browser never completes ICE', async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    const offer = (await page.evaluate(
      "(async () => { const pc = new RTCPeerConnection(); pc.addTransceiver('video', { direction: 'recvonly' }); const o = await pc.createOffer(); pc.close(); return o.sdp; })()",
    )) as string;
    await page.close();
    const ends = await metric(rc, 'relaycast_webrtc_session_ends_total');
    const res = await postOffer(`http://127.0.0.1:${rc.ports.http}/live/rtc/whep`, offer);
    assert.equal(res.status, 201);
    assert.equal(await metric(rc, 'relaycast_webrtc_sessions'), 1);
    // Nobody answers the candidate: the session times out (15 s) and everything is freed.
    await waitFor(
      'the ICE timeout',
      async () => ((await metric(rc, 'relaycast_webrtc_sessions')) === 0 ? true : undefined),
      40_000,
      500,
    );
    assert.equal(await metric(rc, 'relaycast_webrtc_session_ends_total'), ends + 1);
  });
});

describe('WebRTC playback through an edge, with signed play and an origin failover', {
  timeout: 300_000,
  skip,
}, () => {
  it('a signed WHEP viewer on the edge keeps playing when its origin dies and the broadcaster republishes to the other', async () => {
    const redis = await startRedis();
    try {
      const secret = 'whep-secret-0123456789abcdef';
      const token = ['--cluster-token', 'whep-cluster-token'];
      const a = await startClusterNode('origin', redis.url, 'rtc-origin-a', token);
      const b = await startClusterNode('origin', redis.url, 'rtc-origin-b', token);
      const edge = await startClusterNode('edge', redis.url, 'rtc-edge', [
        ...token,
        '--play-auth',
        'signed',
        '--play-secret',
        secret,
        '--republish-wait',
        '60',
      ]);
      const opts = { size: '640x360', extra: ['-profile:v', 'baseline', '-bf', '0'] };
      publish(`rtmp://127.0.0.1:${a.ports.rtmp}/live/rtcfail`, opts);
      const whep = `http://127.0.0.1:${edge.ports.http}/live/rtcfail/whep`;
      const query = signedQuery(secret, 'live', 'rtcfail', 600);
      await waitFor(
        'the stream through the edge',
        async () =>
          (await fetch(`http://127.0.0.1:${edge.ports.http}/live/rtcfail.m3u8?${query}`)).status === 200
            ? true
            : undefined,
        60_000,
        300,
      );
      // without a token: refused like any play
      const page = await browser.newPage();
      await page.goto(pageUrl);
      const refused = (await page.evaluate(
        `window.play('${whep}').then(() => 'played', (e) => String(e))`,
      )) as string;
      assert.match(refused, /WHEP POST answered 403/);
      // the token as a bearer header (the query form is the same token)
      await page.evaluate(`window.play('${whep}', '${query}')`);
      const before = await advancing(page);
      assert.equal(before.w, 640);

      await a.stop('SIGKILL');
      publish(`rtmp://127.0.0.1:${b.ports.rtmp}/live/rtcfail`, opts);
      const after = await advancing(page, before, 'frames after the failover on the same session');
      assert.ok(after.frames > before.frames);
      assert.equal(((await page.evaluate('window.state()')) as PlayerState).ice, 'connected');
      await page.close();
    } finally {
      await killAll();
      await redis.stop();
    }
  });
});

describe('WebRTC playback with --workers 2 (WHEP relayed to the main thread)', {
  timeout: 300_000,
  skip,
}, () => {
  const SECRET = 'whep-workers-secret-0123456789ab';
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', [
      '--workers',
      '2',
      '--node-id',
      'whepw',
      '--play-auth',
      'signed',
      '--play-secret',
      SECRET,
      '--play-bind-ip',
    ]);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/wrtc`, {
      size: '640x360',
      extra: ['-profile:v', 'baseline', '-bf', '0'],
    });
    const q = signedQuery(SECRET, 'live', 'wrtc', 300, '127.0.0.1');
    await waitFor(
      'the stream to be live',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/wrtc.flv?${q}`, { method: 'HEAD' })).status ===
        200
          ? true
          : undefined,
      30_000,
      300,
    );
  });
  after(killAll);

  /** The worker (index) that relayed the WHEP request matching `pred`, from its log line. */
  const relayedBy = (pred: (l: Record<string, unknown>) => boolean) =>
    rc
      .waitForLog((l) => l.msg === 'whep request relayed to the main thread' && pred(l), 10_000)
      .then((l) => l.worker as number);

  /** One kept-alive HTTP connection to the viewer port: every request on it reaches the same worker. */
  function connection() {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: rc.ports.http, method, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    return { agent, send };
  }

  it('plays through whichever worker takes the POST; a DELETE through the other worker ends it; signed URLs, errors, CORS and draining as without workers', async () => {
    const q = signedQuery(SECRET, 'live', 'wrtc', 300, '127.0.0.1');
    const whep = `http://127.0.0.1:${rc.ports.http}/live/wrtc/whep`;
    // no token, and a token bound to another address: refused by the main thread, through a worker
    const unsigned = await postOffer(whep, 'v=0\r\n');
    assert.equal(unsigned.status, 403, unsigned.text);
    assert.equal(unsigned.json().error.code, 'RC_PLAY_SIGNATURE_MISSING');
    const elsewhere = await postOffer(
      `${whep}?${signedQuery(SECRET, 'live', 'wrtc', 300, '10.1.2.3')}`,
      'v=0\r\n',
    );
    assert.equal(elsewhere.status, 403, elsewhere.text);
    assert.equal(elsewhere.json().error.code, 'RC_PLAY_SIGNATURE_INVALID');
    // the main thread's errors pass through unchanged: bad names, bad offers
    const badName = await postOffer(`http://127.0.0.1:${rc.ports.http}/live/%zz/whep?${q}`, 'v=0\r\n');
    assert.equal(badName.status, 400, badName.text);
    assert.equal(badName.json().error.code, 'RC_NAME_INVALID');
    const garbage = await postOffer(`${whep}?${q}`, 'hello, not SDP');
    assert.equal(garbage.status, 400, garbage.text);
    assert.equal(garbage.json().error.code, 'RC_WEBRTC_SDP_INVALID');
    // preflight and CORS headers on relayed answers
    const pre = await fetch(whep, {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-expose-headers') ?? '', /Location/);
    const corsy = await fetch(whep, { method: 'POST', headers: { 'Content-Type': 'application/sdp' } });
    await corsy.text();
    assert.equal(corsy.headers.get('access-control-allow-origin'), '*');

    // Players, each in its own browser context (its own connections, so the kernel
    // spreads them), until both workers have relayed a POST; one sends its token as a Bearer header.
    const players: { page: Page; location: string; postedBy: number }[] = [];
    const contexts: BrowserContext[] = [];
    for (let i = 0; i < 8 && (players.length < 4 || new Set(players.map((p) => p.postedBy)).size < 2); i++) {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(pageUrl);
      const location = (await page.evaluate(
        i === 1 ? `window.play('${whep}', '${q}')` : `window.play('${whep}?${q}')`,
      )) as string;
      assert.match(location, /\/live\/wrtc\/whep\/[0-9a-f]{24}$/);
      const path = new URL(location).pathname;
      const postedBy = await relayedBy((l) => l.method === 'POST' && l.location === path);
      players.push({ page, location, postedBy });
    }
    const posters = new Set(players.map((p) => p.postedBy));
    assert.equal(posters.size, 2, 'both workers relayed WHEP POSTs');
    for (const p of players) {
      const st = await advancing(p.page);
      assert.equal(st.w, 640);
      assert.ok(st.tracks.includes('audio'));
    }
    assert.equal(await metric(rc, 'relaycast_webrtc_sessions'), players.length);
    // the media counters of the main thread's sessions show in the merged /metrics
    const sent = async (name: string, kind: string) => {
      const text = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`kind="${kind}"`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    for (const kind of ['video', 'audio']) {
      assert.ok((await sent('relaycast_webrtc_packets_sent_total', kind)) > 0, kind);
      assert.ok((await sent('relaycast_webrtc_bytes_sent_total', kind)) > 0, kind);
    }
    await waitFor(
      'RTT samples from receiver reports',
      async () => ((await metric(rc, 'relaycast_webrtc_rtt_seconds_count')) > 0 ? true : undefined),
      30_000,
      500,
    );
    const text = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
    assert.match(text, /^relaycast_webrtc_nacks_total(\{[^}]*\})? \d+/m);
    assert.match(text, /^relaycast_webrtc_plis_total(\{[^}]*\})? \d+/m);

    // Two kept-alive connections, one per worker (a DELETE of an unknown session tells which: its
    // 404 passes through unchanged).
    const conns = new Map<number, ReturnType<typeof connection>>();
    for (let i = 0; i < 6 && conns.size < 2; i++) {
      const c = connection();
      const probe = `/live/wrtc/whep/${randomBytes(12).toString('hex')}`;
      const r = await c.send('DELETE', probe);
      assert.equal(r.status, 404, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'RC_WEBRTC_SESSION_NOT_FOUND');
      const worker = await relayedBy((l) => l.method === 'DELETE' && l.path === probe);
      if (conns.has(worker)) c.agent.destroy();
      else conns.set(worker, c);
    }
    assert.equal(conns.size, 2, 'a connection on each worker');
    // DELETE each session through the worker that did not take its POST
    for (const p of players) {
      const [worker, other] = [...conns].find(([w]) => w !== p.postedBy)!;
      const path = new URL(p.location).pathname;
      const del = await other.send('DELETE', path);
      assert.equal(del.status, 200, del.body);
      assert.equal(await relayedBy((l) => l.method === 'DELETE' && l.path === path), worker);
    }
    await waitFor(
      'the session gauge back to 0',
      async () => ((await metric(rc, 'relaycast_webrtc_sessions')) === 0 ? true : undefined),
      10_000,
      200,
    );
    for (const c of conns.values()) c.agent.destroy();
    const realOffer = (await players[0]!.page.evaluate(
      "(async () => { const pc = new RTCPeerConnection(); pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' }); const o = await pc.createOffer(); pc.close(); return o.sdp; })()",
    )) as string;
    for (const c of contexts) await c.close();

    // draining: the main thread refuses new WHEP sessions, through the workers, until undrained
    const admin = `http://127.0.0.1:${rc.ports.admin}/api/v1/nodes/whepw`;
    const adminPost = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' };
    assert.equal((await fetch(`${admin}/drain`, adminPost)).status, 202);
    const offer = await waitFor(
      'a WHEP POST refused with RC_NODE_DRAINING',
      async () => {
        const r = await postOffer(`${whep}?${q}`, realOffer);
        return r.status === 503 ? r : undefined;
      },
      10_000,
      200,
    );
    assert.equal(offer.json().error.code, 'RC_NODE_DRAINING');
    assert.equal((await fetch(`${admin}/undrain`, adminPost)).status, 202);
  });
});
