/**
 * The player page (/play/<app>/<name>) and the index of live streams (/). The players' code comes
 * from npm (mpegts.js for HTTP-FLV, hls.js for HLS) and is served by relaycast itself, so it
 * works on private networks with no CDN. WebRTC needs no library: the browser's RTCPeerConnection
 * and one WHEP POST.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sendError } from '../core/http-util.ts';

const require = createRequire(import.meta.url);

function distFile(pkg: string, file: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', file);
}

type Asset = { type: string } & ({ path: () => string } | { text: () => string });

const ASSETS: Record<string, Asset> = {
  'player.js': { text: () => PLAYER_JS, type: 'text/javascript; charset=utf-8' },
  'mpegts.js': { path: () => distFile('mpegts.js', 'mpegts.js'), type: 'text/javascript; charset=utf-8' },
  'hls.min.js': { path: () => distFile('hls.js', 'hls.min.js'), type: 'text/javascript; charset=utf-8' },
};

export function servePlayerAsset(file: string, req: IncomingMessage, res: ServerResponse): void {
  const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
  if (!asset) {
    sendError(res, 404, 'RC_NOT_FOUND', 'no such player asset');
    return;
  }
  if ('text' in asset) {
    const body = Buffer.from(asset.text());
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const path = asset.path();
  const size = statSync(path).size;
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': size,
    'Cache-Control': 'public, max-age=86400',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(path).pipe(res);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The public index of live streams. With signed play (`listed: false`) it names no stream: the names
 * are what a leecher would need, and unsigned links would only answer 403; it says how to get a
 * signed URL instead (the admin API lists streams to the operator).
 */
export function renderIndexPage(streams: { app: string; name: string }[], listed = true): string {
  const rows = streams
    .map((s) => {
      const path = `${encodeURIComponent(s.app)}/${encodeURIComponent(s.name)}`;
      return `<tr><td>${escapeHtml(s.app)}/${escapeHtml(s.name)}</td><td><a href="/play/${path}">player</a></td><td><a href="/${path}.flv">.flv</a></td><td><a href="/${path}.m3u8">.m3u8</a></td><td><a href="/play/${path}?mode=webrtc">WebRTC</a></td></tr>`;
    })
    .join('\n');
  const body = !listed
    ? '<p>Playback on this server needs signed URLs, so live streams are not listed here. The operator makes a link with <code>npx relaycast sign live/&lt;name&gt; --secret &hellip; --base http://HOST:PORT</code>; the admin API (<code>GET /api/v1/streams</code>) lists what is live.</p>'
    : streams.length
      ? `<table><tr><th>stream</th><th></th><th></th><th></th><th></th></tr>\n${rows}</table>`
      : '<p>No stream is live. Publish one with OBS or ffmpeg to <code>rtmp://HOST:1935/live/&lt;stream key&gt;</code> (the stream name in open mode, or a key from <code>npx relaycast channel create</code>).</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relaycast — live streams</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:.3em 1em;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body>
<h1>Live streams</h1>
${body}
</body></html>
`;
}

/**
 * Content-Security-Policy of the player and index pages: scripts only from relaycast itself (the
 * players and player.js, no inline script), media and workers from blob: (MSE), no plug-ins, no
 * framing by other sites.
 */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'";

/**
 * hls.js (1.7) settings of the player page's LL-HLS mode. Our segments do not start on keyframes
 * (with OBS's 8.3 s GOP most parts depend on a keyframe several segments back), so anything that
 * makes hls.js start a new transmux session mid-GOP costs a hole up to a whole GOP: hls.js appends
 * the init segment again and Chromium then drops every frame until the next keyframe
 * (bufferAppendNoProgress, latency a GOP higher for good). Two hls.js races did that, or stalled:
 *
 * - `interstitialsController: null`: with `autoStartLoad: false`, when the MediaSource opens before
 *   the first playlist arrives (a first playlist slower than ~50 ms, as through an edge), the
 *   interstitials controller waits for startLoad and, at the first seek, calls startLoad() again:
 *   the part in flight is aborted and loading restarts mid-GOP (the hole above). We use no
 *   interstitials (EXT-X-DATERANGE CLASS="com.apple.hls.interstitial").
 * - no `backBufferLength` (hls.js's default: none, the browser evicts old media itself): a
 *   back-buffer flush that completes while a part is loaded but not yet appended makes hls.js's
 *   fragment tracker forget the segment being loaded and the parts of it already buffered; at the
 *   segment's end hls.js then loads nothing more until the server stops listing those parts (after
 *   the next keyframe): a stall of seconds with the next parts in the playlist.
 */
export const LL_HLS_CONFIG = {
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1.2,
  autoStartLoad: false,
  enableWorker: false,
  interstitialsController: null,
} as const;

/** The player page's script: reads its URLs from #player's data attributes. */
const PLAYER_JS = `(function(){
  var main = document.getElementById('player');
  var cfg = { flv: main.dataset.flv, hls: main.dataset.hls, llhls: main.dataset.llhls, whep: main.dataset.whep, name: main.dataset.name };
  var video = document.getElementById('video');
  var player = null, mode = null, stalls = 0, errors = [], status = 'connecting', retryTimer = null, retries = 0, catchUps = 0, llHoldBack = 0;
  window.relaycastPlayer = { get mode(){return mode;}, get stalls(){return stalls;}, get status(){return status;}, get retries(){return retries;}, get catchUps(){return catchUps;}, errors: errors };
  function setStatus(s, text){ status = s; document.getElementById('status').textContent = text; }
  function setErr(msg){ errors.push(msg); document.getElementById('err').textContent = msg; }
  // A stream that is not live (yet, or any more) answers 404: say so and try again until it is.
  function waitForLive(why){
    if (retryTimer) return;
    stop();
    retries++;
    setStatus('waiting', cfg.name + (why === 'ended' ? ' ended; waiting for it to come back' : ' is not live yet; waiting for the broadcast') + ' (retrying every 3 s)');
    retryTimer = setTimeout(function(){ retryTimer = null; start(mode); }, 3000);
  }
  function refused(code){ stop(); setStatus('refused', 'not allowed to play'); setErr('the server refused playback (' + code + '): the link may be unsigned or expired; ask for a new one'); }
  function stop(){
    if (player) { try { player.destroy(); } catch (e) {} player = null; }
    video.srcObject = null;
    video.removeAttribute('src'); video.load();
  }
  // WebRTC (WHEP): a recvonly peer connection, one POST of the offer, the answer back; the
  // session URL (Location) is DELETEd when the viewer switches away or leaves.
  function startWebrtc(){
    if (!window.RTCPeerConnection) { setErr('this browser has no WebRTC'); return; }
    var pc = new RTCPeerConnection(), session = null, closed = false;
    var self = { pc: pc, destroy: function(){ closed = true; pc.close(); if (session) fetch(session, { method: 'DELETE', keepalive: true }).catch(function(){}); } };
    player = self;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    var media = new MediaStream();
    pc.ontrack = function(e){ media.addTrack(e.track); video.srcObject = media; var q = video.play(); if (q && q.catch) q.catch(function(){}); };
    pc.onconnectionstatechange = function(){
      if (closed || player !== self) return;
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') waitForLive('ended');
    };
    pc.createOffer().then(function(offer){ return pc.setLocalDescription(offer).then(function(){ return offer; }); })
      .then(function(offer){ return fetch(new URL(cfg.whep, location.href).href, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer.sdp }); })
      .then(function(res){
        if (player !== self) return;
        if (res.status === 404) { waitForLive('new'); return; }
        if (res.status === 401 || res.status === 403) { refused(res.status); return; }
        if (res.status !== 201) return res.json().then(function(b){ setErr('WebRTC: ' + ((b.error && b.error.message) || res.status)); }, function(){ setErr('WebRTC: HTTP ' + res.status); });
        session = new URL(res.headers.get('Location'), location.href).href;
        return res.text().then(function(sdp){ return pc.setRemoteDescription({ type: 'answer', sdp: sdp }); });
      })
      .catch(function(e){ if (player === self) setErr('WebRTC: ' + e); });
  }
  // WebRTC latency shown: the receiver's jitter-buffer delay (what it holds before decoding) plus
  // half the round trip; the encoder's and network's share is not visible from the page.
  var rtcLatency = null;
  function pollWebrtcStats(){
    if (mode !== 'webrtc' || !player || !player.pc) return;
    player.pc.getStats().then(function(stats){
      var jb = null, rtt = 0;
      stats.forEach(function(r){
        if (r.type === 'inbound-rtp' && r.kind === 'video' && r.jitterBufferEmittedCount) jb = r.jitterBufferDelay / r.jitterBufferEmittedCount;
        if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime) rtt = r.currentRoundTripTime;
      });
      rtcLatency = jb === null ? null : jb + rtt / 2;
    }).catch(function(){});
  }
  // Only the player a mode needs is loaded (hls.js and mpegts.js are large: start-up time).
  var libs = {}, wantedMode = null;
  function need(file, cb){
    if (libs[file] === true) { cb(); return; }
    if (libs[file]) { libs[file].push(cb); return; }
    libs[file] = [cb];
    var s = document.createElement('script');
    s.src = '/_player/' + file;
    s.onload = s.onerror = function(){ var waiting = libs[file]; libs[file] = true; waiting.forEach(function(f){ f(); }); };
    document.head.appendChild(s);
  }
  function start(next){
    wantedMode = next;
    if (next === 'webrtc') { startNow(next); return; }
    need(next === 'flv' ? 'mpegts.js' : 'hls.min.js', function(){ if (wantedMode === next) startNow(next); });
  }
  function startNow(next){
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    stop(); mode = next; stalls = 0; errors.length = 0; document.getElementById('err').textContent = '';
    setStatus('connecting', 'connecting…');
    document.getElementById('btn-flv').setAttribute('aria-pressed', String(next === 'flv'));
    document.getElementById('btn-hls').setAttribute('aria-pressed', String(next === 'hls'));
    document.getElementById('btn-webrtc').setAttribute('aria-pressed', String(next === 'webrtc'));
    var llButton = document.getElementById('btn-llhls');
    if (llButton) llButton.setAttribute('aria-pressed', String(next === 'llhls'));
    document.getElementById('mode').textContent = next;
    if (next === 'webrtc') { rtcLatency = null; startWebrtc(); return; }
    if (next === 'flv') {
      if (!window.mpegts || !mpegts.isSupported()) { setErr('HTTP-FLV needs Media Source Extensions'); return; }
      player = mpegts.createPlayer({ type: 'flv', isLive: true, url: new URL(cfg.flv, location.href).href },
        { enableStashBuffer: false, liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 1.5, liveBufferLatencyMinRemain: 0.3 });
      player.on(mpegts.Events.ERROR, function(type, detail, info){
        var code = info && info.code;
        if (code === 404) waitForLive('new');
        else if (code === 401 || code === 403) refused(code);
        else if (type === mpegts.ErrorTypes.NETWORK_ERROR) waitForLive('ended');
        else setErr('FLV error: ' + type + ' ' + detail);
      });
      player.on(mpegts.Events.LOADING_COMPLETE, function(){ waitForLive('ended'); });
      player.attachMediaElement(video); player.load();
      var p = player.play(); if (p && p.catch) p.catch(function(){});
    } else {
      // LL-HLS: hls.js starts PART-HOLD-BACK behind the live edge and blocks on playlist reloads.
      var url = next === 'llhls' ? cfg.llhls : cfg.hls;
      if (window.Hls && Hls.isSupported()) {
        player = new Hls(next === 'llhls'
          ? ${JSON.stringify(LL_HLS_CONFIG)}
          : { lowLatencyMode: true, liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.2 });
        if (next === 'llhls') {
          // Parts need not start on a keyframe, and a decoder shows nothing before one: with a long
          // GOP the live edge may be seconds past the last keyframe. Load from the last INDEPENDENT
          // part (the server lists parts back to it), then jump to where hls.js would have started;
          // the decoder runs through the GOP to get there, so the picture appears at once.
          var jumpedAt = 0, holdBack = 0;
          player.once(Hls.Events.LEVEL_LOADED, function(_e, data){
            var parts = (data.details && data.details.partList) || [], from = -1;
            holdBack = llHoldBack = (data.details && data.details.partHoldBack) || 0;
            for (var i = 0; i < parts.length; i++) if (parts[i].independent) from = parts[i].start;
            player.startLoad(from);
          });
          player.on(Hls.Events.FRAG_BUFFERED, function(){
            var target = player.liveSyncPosition;
            if (jumpedAt || !target || !video.buffered.length) return;
            if (video.buffered.end(video.buffered.length - 1) < target) return;
            jumpedAt = Date.now();
            if (target - video.currentTime > 0.5) video.currentTime = target;
          });
          // The decoder catching up after the jump (and the start-up loads) can read as stalls,
          // and hls.js then adds a second to its target latency for good: not for those.
          player.on(Hls.Events.ERROR, function(_e, d){
            if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR && jumpedAt && Date.now() - jumpedAt < 10000 && holdBack)
              player.targetLatency = holdBack;
          });
        }
        player.on(Hls.Events.ERROR, function(_e, d){
          if (!d.fatal) return;
          var code = d.response && d.response.code;
          if (code === 404) waitForLive(status === 'live' ? 'ended' : 'new');
          else if (code === 401 || code === 403) refused(code);
          else if (d.type === Hls.ErrorTypes.NETWORK_ERROR) waitForLive('ended');
          else setErr('HLS error: ' + d.type + ' ' + d.details);
        });
        player.loadSource(url); player.attachMedia(video);
      } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
        // Native HLS (Safari): the signed query stays on the playlist URL; the server writes the
        // token into key URIs, so encrypted streams play too.
        video.src = url;
        video.onerror = function(){ waitForLive(status === 'live' ? 'ended' : 'new'); };
      } else { setErr('this browser cannot play HLS'); return; }
      var q = video.play(); if (q && q.catch) q.catch(function(){});
    }
  }
  video.addEventListener('playing', function(){ setStatus('live', 'live'); });
  video.addEventListener('waiting', function(){ if (video.currentTime > 0) { stalls++; document.getElementById('stalls').textContent = stalls; } });
  setInterval(function(){
    var end = video.buffered.length ? video.buffered.end(video.buffered.length - 1) : 0;
    document.getElementById('buffer').textContent = (end - video.currentTime).toFixed(2) + ' s';
    document.getElementById('time').textContent = video.currentTime.toFixed(1);
    var lat = null;
    // LL-HLS: glass-to-glass from EXT-X-PROGRAM-DATE-TIME (the server's arrival clock).
    if (mode === 'llhls' && player && player.playingDate) {
      lat = (Date.now() - player.playingDate.getTime()) / 1000;
      // Far behind live after a stall (hls.js recovers from the last keyframe, a whole GOP back,
      // and only creeps forward at its catch-up rate): jump to where it would have started.
      var sync = player.liveSyncPosition;
      if (llHoldBack && lat > llHoldBack + 2.5 && sync && end >= sync && sync - video.currentTime > 1) {
        video.currentTime = sync;
        catchUps++;
      }
    }
    else if ((mode === 'hls' || mode === 'llhls') && player && player.latency !== undefined) lat = player.latency;
    else if (mode === 'webrtc') { pollWebrtcStats(); lat = rtcLatency; }
    else if (end) lat = end - video.currentTime;
    document.getElementById('latency').textContent = lat === null ? '-' : lat.toFixed(2) + ' s';
  }, 500);
  document.getElementById('btn-flv').onclick = function(){ start('flv'); };
  document.getElementById('btn-hls').onclick = function(){ start('hls'); };
  document.getElementById('btn-webrtc').onclick = function(){ start('webrtc'); };
  if (cfg.llhls) document.getElementById('btn-llhls').onclick = function(){ start('llhls'); };
  window.addEventListener('pagehide', function(){ stop(); });
  window.relaycastPlayer.latency = function(){ var t = document.getElementById('latency').textContent; return t === '-' ? null : parseFloat(t); };
  var wanted = new URLSearchParams(location.search).get('mode');
  start(wanted === 'llhls' && cfg.llhls ? 'llhls' : wanted === 'hls' || wanted === 'flv' || wanted === 'webrtc' ? wanted : (window.MediaSource ? 'flv' : 'hls'));
})();
`;

/**
 * `llhls`: the node serves /<app>/<name>/ll.m3u8; the page's HLS button then plays LL-HLS (mode
 * `llhls`) and "HLS (TS)" the classic /<app>/<name>.ts.m3u8 (mode `hls`).
 */
export function renderPlayerPage(app: string, name: string, search: string, llhls = false): string {
  const path = `/${encodeURIComponent(app)}/${encodeURIComponent(name)}`;
  // Everything from the request reaches the page as escaped attribute text; no inline script
  // exists, so the CSP below can forbid inline scripts altogether.
  const attr = (v: string) => escapeHtml(v);
  // The library the requested mode needs starts downloading with the page, not after player.js.
  const mode = new URLSearchParams(search).get('mode');
  const lib = mode === 'hls' || mode === 'llhls' ? 'hls.min.js' : mode === 'webrtc' ? undefined : 'mpegts.js';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${app}/${name}`)} — relaycast</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${lib ? `<link rel="preload" href="/_player/${lib}" as="script">\n` : ''}<style>
body{font:15px system-ui,sans-serif;margin:0;background:#111;color:#eee}
main{max-width:1100px;margin:0 auto;padding:1em}
video{width:100%;background:#000;aspect-ratio:16/9}
.bar{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:.6em 0}
button{background:#333;color:#eee;border:1px solid #555;padding:.4em 1em;cursor:pointer}
button[aria-pressed=true]{background:#2a6;border-color:#2a6}
#stats span{margin-right:1.2em}
#err{color:#f66}
</style></head><body><main id="player" data-flv="${attr(`${path}.flv${search}`)}" data-hls="${attr(`${path}.ts.m3u8${search}`)}"${llhls ? ` data-llhls="${attr(`${path}/ll.m3u8${search}`)}"` : ''} data-whep="${attr(`${path}/whep${search}`)}" data-name="${attr(`${app}/${name}`)}">
<h1 style="font-size:1.2em">${escapeHtml(`${app}/${name}`)}</h1>
<video id="video" controls autoplay muted playsinline></video>
<div class="bar">
 <button id="btn-flv" aria-pressed="false">HTTP-FLV</button>
${llhls ? ' <button id="btn-llhls" aria-pressed="false" title="Low-Latency HLS (fMP4 parts)">HLS</button>\n' : ''} <button id="btn-hls" aria-pressed="false"${llhls ? ' title="classic MPEG-TS HLS (.ts.m3u8)">HLS (TS)' : '>HLS'}</button>
 <button id="btn-webrtc" aria-pressed="false">WebRTC</button>
 <div id="stats"><span>mode: <b id="mode">-</b></span><span>latency: <b id="latency">-</b></span><span>buffer: <b id="buffer">-</b></span><span>stalls: <b id="stalls">0</b></span><span>time: <b id="time">0</b></span></div>
</div>
<div id="status" role="status">connecting…</div>
<div id="err" role="alert"></div>
</main>
<script src="/_player/player.js"></script>
</body></html>
`;
}
