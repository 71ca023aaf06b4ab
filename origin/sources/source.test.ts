import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/log.ts';
import { parseSourceUrl } from '../../core/source-url.ts';
import { PPS, SPS } from '../../media/hls/fixtures.ts';
import { StreamHub } from '../../media/hub/hub.ts';
import { TsMuxer } from '../../media/mpegts/muxer.ts';
import { type MediaTag, TAG_VIDEO } from '../../media/tag.ts';
import { sendTs } from '../../test/helpers/ts-sender.ts';
import { SourceManager } from './manager.ts';
import { Source } from './source.ts';

const log = createLogger('silent');
const opened: { close(reason?: string): void }[] = [];
after(() => {
  for (const s of opened) s.close('test-end');
});

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function tsStream(t0Ms: number, frames: number): Buffer {
  const m = new TsMuxer();
  m.setTracks({ video: 'h264' });
  m.writeTables();
  const start = Buffer.from([0, 0, 0, 1]);
  for (let i = 0; i < frames; i++) {
    const slice = Buffer.alloc(400, (i % 200) + 1);
    slice[0] = i % 10 === 0 ? 0x65 : 0x41;
    const au =
      i % 10 === 0 ? Buffer.concat([start, SPS, start, PPS, start, slice]) : Buffer.concat([start, slice]);
    m.writeVideo(au, t0Ms + i * 40, t0Ms + i * 40, i % 10 === 0);
    if (i % 10 === 9) m.writeTables();
  }
  return m.flush();
}

function datagrams(ts: Buffer, size = 1316): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < ts.length; i += size) out.push(ts.subarray(i, i + size));
  return out;
}

function rtpWrap(payloads: Buffer[], seq0: number): Buffer[] {
  return payloads.map((p, i) => {
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = 33;
    h.writeUInt16BE((seq0 + i) & 0xffff, 2);
    h.writeUInt32BE(0xabc, 8);
    return Buffer.concat([h, p]);
  });
}

async function send(port: number, packets: Buffer[]): Promise<void> {
  const s = createSocket('udp4');
  for (const p of packets) {
    await new Promise<void>((r, j) => s.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    await new Promise((r) => setImmediate(r));
  }
  s.close();
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function collect(hub: StreamHub, name: string): MediaTag[] {
  const tags: MediaTag[] = [];
  hub.on('publish', (stream) => {
    if (stream.name !== name) return;
    if (!(stream as unknown as { tapped?: boolean }).tapped) {
      (stream as unknown as { tapped?: boolean }).tapped = true;
      stream.addTap({ onTag: (t) => tags.push(t) });
    }
  });
  return tags;
}

describe('source URLs', () => {
  it('accepts udp/rtp unicast and multicast with source, interface and program', () => {
    assert.deepEqual(parseSourceUrl('udp://239.1.1.1:5000?source=10.0.0.9&interface=10.0.0.5&program=3'), {
      protocol: 'udp',
      host: '239.1.1.1',
      port: 5000,
      family: 4,
      multicast: true,
      sourceAddress: '10.0.0.9',
      interfaceAddress: '10.0.0.5',
      programNumber: 3,
    });
    assert.equal(parseSourceUrl('udp://@239.1.1.2:1234').host, '239.1.1.2');
    assert.deepEqual(
      parseSourceUrl('rtp://127.0.0.1:6000', { interfaceAddress: '127.0.0.1' }).interfaceAddress,
      '127.0.0.1',
    );
  });
  for (const bad of [
    'http://x/a.flv',
    'udp://example.com:5000',
    'udp://239.1.1.1',
    'udp://239.1.1.1:70000',
    'udp://127.0.0.1:5000?source=10.0.0.1',
    'udp://239.1.1.1:5000?bogus=1',
    'udp://239.1.1.1:5000?interface=::1',
    'udp://239.1.1.1:5000?program=0',
  ])
    it(`refuses ${bad} with RC_SOURCE_URL_INVALID`, () => {
      assert.throws(() => parseSourceUrl(bad), { code: 'RC_SOURCE_URL_INVALID' });
    });
});

describe('Source (UDP and RTP into the hub)', () => {
  it('publishes MPEG-TS datagrams as live/<name>, counts garbage and ends on close (idempotent, typed)', async () => {
    const hub = new StreamHub();
    const port = await freeUdpPort();
    const tags = collect(hub, 'ch1');
    const source = new Source(
      hub,
      parseSourceUrl(`udp://127.0.0.1:${port}`),
      { app: 'live', name: 'ch1', url: 'u' },
      log,
    );
    const closes: string[] = [];
    source.on('close', (r) => closes.push(r));
    opened.push(source);
    await source.start();
    assert.equal(source.state, 'waiting');
    const garbage = [Buffer.from('not mpeg-ts at all'), Buffer.alloc(1316, 0x47), Buffer.alloc(3)];
    await send(port, [...garbage, ...datagrams(tsStream(1000, 40))]);
    await until(() => tags.filter((t) => t.type === TAG_VIDEO).length >= 30);
    assert.ok(hub.getLive('live', 'ch1'));
    const st = source.stats();
    assert.equal(st.state, 'receiving');
    assert.equal(st.video, 'h264');
    assert.ok(st.packets > 100);
    const ts = tags.map((t) => t.timestamp);
    assert.ok(ts.every((v, i) => i === 0 || v >= ts[i - 1]!));
    source.close('test');
    source.close('again');
    assert.deepEqual(closes, ['test']);
    assert.equal(source.closed, true);
    assert.equal(hub.getLive('live', 'ch1'), undefined);
    await assert.rejects(source.start(), { code: 'RC_SOURCE_CLOSED' });
  });

  it('RTP: reorders swapped datagrams and counts a lost one', async () => {
    const hub = new StreamHub();
    const port = await freeUdpPort();
    const tags = collect(hub, 'ch2');
    const source = new Source(
      hub,
      parseSourceUrl(`rtp://127.0.0.1:${port}`),
      { app: 'live', name: 'ch2', url: 'u' },
      log,
    );
    opened.push(source);
    await source.start();
    const rtp = rtpWrap(datagrams(tsStream(1000, 60), 188 * 2), 65500); // crosses the sequence wrap
    [rtp[5], rtp[6]] = [rtp[6]!, rtp[5]!];
    rtp.splice(40, 1);
    await send(port, rtp);
    await until(() => source.stats().datagrams === rtp.length);
    await until(() => tags.length > 20);
    const st = source.stats();
    assert.equal(st.rtpReordered >= 1, true);
    assert.equal(st.rtpLost, 1);
    assert.equal(st.ccErrors >= 1, true); // the lost datagram's packets
    source.close('test-done');
  });

  it('goes silent, ends the publication, and comes back with a reconnect and a monotonic timeline', async () => {
    const hub = new StreamHub({ republishWaitMs: 10_000 });
    const port = await freeUdpPort();
    const tags = collect(hub, 'ch3');
    const source = new Source(
      hub,
      parseSourceUrl(`udp://127.0.0.1:${port}`),
      { app: 'live', name: 'ch3', url: 'u', silenceTimeoutMs: 400 },
      log,
    );
    opened.push(source);
    await source.start();
    await send(port, datagrams(tsStream(50_000, 20)));
    await until(() => source.state === 'silent', 10_000);
    assert.equal(hub.getLive('live', 'ch3'), undefined);
    const before = tags.length;
    await send(port, datagrams(tsStream(1000, 20))); // restarted encoder: timestamps from the start
    await until(() => tags.length > before + 5);
    assert.equal(source.stats().reconnects, 1);
    const ts = tags.filter((t) => t.type === TAG_VIDEO).map((t) => t.timestamp);
    assert.ok(
      ts.every((v, i) => i === 0 || v >= ts[i - 1]!),
      ts.join(','),
    );
    source.close('test-done');
  });

  it('drops a flood beyond its datagram budget before parsing, and logs each problem code once per interval with its count', async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const port = await freeUdpPort();
    const source = new Source(
      new StreamHub(),
      parseSourceUrl(`udp://127.0.0.1:${port}`),
      { app: 'live', name: 'flood', url: 'u', maxDatagramsPerSecond: 20, problemLogIntervalMs: 300 },
      capture,
    );
    opened.push(source);
    await source.start();
    const junk = Array.from({ length: 60 }, (_, i) => Buffer.alloc(376, i % 2 ? 0x47 : 0x11));
    await send(port, junk);
    await until(() => source.stats().datagrams + source.stats().floodDrops === 60);
    const st = source.stats();
    assert.ok(st.datagrams <= 20 * 2, `${st.datagrams} parsed`); // at most two one-second windows
    assert.ok(st.floodDrops >= 20, `${st.floodDrops} dropped`);
    await until(() => lines.some((l) => l.code === 'RC_SOURCE_FLOOD'), 5000);
    const flood = lines.filter((l) => l.code === 'RC_SOURCE_FLOOD');
    assert.equal(flood.length, 1, JSON.stringify(flood));
    assert.equal(flood[0]!.count, st.floodDrops);
    source.close('test-done');
  });

  it('rejects a bind on an address this host does not have with RC_SOURCE_BIND_FAILED', async () => {
    const source = new Source(
      new StreamHub(),
      parseSourceUrl('udp://192.0.2.1:5000'),
      { app: 'live', name: 'x', url: 'u' },
      log,
    );
    await assert.rejects(source.start(), { code: 'RC_SOURCE_BIND_FAILED' });
    assert.equal(source.closed, true);
  });
});

describe('SourceManager with ffmpeg', { concurrency: false }, () => {
  for (const [proto, format] of [
    ['udp', 'mpegts'],
    ['rtp', 'rtp_mpegts'],
  ] as const) {
    it(`receives ffmpeg -f ${format} ${proto}://, exports per-source metrics`, async () => {
      const hub = new StreamHub();
      const registry = new Registry();
      const manager = new SourceManager(hub, log, { registry });
      opened.push(manager);
      const port = await freeUdpPort();
      const tags = collect(hub, `ff${proto}`);
      await manager.set({ name: `ff${proto}`, url: `${proto}://127.0.0.1:${port}` });
      const ff = sendTs(`${proto}://127.0.0.1:${port}`, format, 'libx264', 3);
      try {
        await until(() => tags.filter((t) => t.type === TAG_VIDEO).length > 25, 60_000);
        const [st] = manager.list();
        assert.deepEqual(
          [st?.state, st?.video, st?.audio, st?.ccErrors],
          ['receiving', 'h264', 'mpeg-audio', 0],
        );
        const text = await registry.metrics();
        assert.match(text, new RegExp(`relaycast_source_packets\\{source="ff${proto}"\\} [1-9]`));
        assert.match(text, new RegExp(`relaycast_source_state\\{source="ff${proto}",state="receiving"\\} 1`));
      } finally {
        ff.kill('SIGKILL');
        manager.close();
      }
      assert.deepEqual(manager.list(), []);
    });
  }
});
