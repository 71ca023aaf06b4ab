import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  crc32Mpeg2,
  msTo90k,
  PCR_LAG_MS,
  STREAM_TYPE_AAC_ADTS,
  STREAM_TYPE_H264,
  STREAM_TYPE_HEVC,
  STREAM_TYPE_MPEG1_AUDIO,
  STREAM_TYPE_MPEG2_AUDIO,
  TS_PACKET_BYTES,
  TsMuxer,
} from './muxer.ts';
import { annexBNalTypes, crc32Mpeg2Bitwise, readTransportStream } from './ts-reader.ts';

const V = 0x100;
const A = 0x101;

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A fake ADTS frame (sync word + payload) of n bytes. */
function adts(n: number, seed = 1): Buffer {
  const b = bytes(n, seed);
  b[0] = 0xff;
  b[1] = 0xf1;
  return b;
}

describe('CRC-32/MPEG-2', () => {
  it('matches the bitwise reference and the check value', () => {
    assert.equal(crc32Mpeg2(Buffer.from('123456789')), 0x0376e6e7); // catalogue check value
    assert.equal(crc32Mpeg2Bitwise(Buffer.from('123456789')), 0x0376e6e7);
    for (let n = 0; n < 300; n += 7) {
      const b = bytes(n, n);
      assert.equal(crc32Mpeg2(b), crc32Mpeg2Bitwise(b));
    }
  });
});

describe('TsMuxer', () => {
  it('writes PAT and PMT in one packet each, with CRCs the bitwise reference accepts', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264', audio: 'aac' });
    m.writeTables();
    const out = m.flush();
    assert.equal(out.length, 2 * TS_PACKET_BYTES);
    const r = readTransportStream([out]);
    assert.deepEqual(r.problems, []);
    assert.equal(r.psi.length, 2);
    const [pat, pmt] = r.psi;
    assert.ok(pat!.crcOk && pmt!.crcOk);
    assert.equal(pat!.tableId, 0);
    assert.deepEqual([...pat!.programs!], [[1, 0x1000]]);
    assert.equal(pmt!.pid, 0x1000);
    assert.equal(pmt!.tableId, 2);
    assert.equal(pmt!.pcrPid, V);
    assert.deepEqual(pmt!.streams, [
      { streamType: STREAM_TYPE_H264, pid: V },
      { streamType: STREAM_TYPE_AAC_ADTS, pid: A },
    ]);
    // a section followed by its own CRC checks to zero
    const section = out.subarray(5, 5 + 3 + (out.readUInt16BE(6) & 0xfff));
    assert.equal(crc32Mpeg2Bitwise(section), 0);
    // a flipped bit is caught
    const bad = Buffer.from(out);
    bad[12]! ^= 0x01;
    assert.equal(readTransportStream([bad]).psi[0]!.crcOk, false);
  });

  it('maps tracks to stream types, moves PCR to audio without video, bumps the PMT version on change', () => {
    const cases: [Parameters<TsMuxer['setTracks']>[0], { streamType: number; pid: number }[], number][] = [
      [
        { video: 'hevc', audio: 'mp3' },
        [
          { streamType: STREAM_TYPE_HEVC, pid: V },
          { streamType: STREAM_TYPE_MPEG1_AUDIO, pid: A },
        ],
        V,
      ],
      [{ audio: 'mp3', audioSampleRateHz: 22050 }, [{ streamType: STREAM_TYPE_MPEG2_AUDIO, pid: A }], A],
      [{ audio: 'aac' }, [{ streamType: STREAM_TYPE_AAC_ADTS, pid: A }], A],
      [{ video: 'h264' }, [{ streamType: STREAM_TYPE_H264, pid: V }], V],
    ];
    const m = new TsMuxer();
    const versions: number[] = [];
    for (const [tracks, streams, pcrPid] of cases) {
      m.setTracks(tracks);
      m.writeTables();
      const pmt = readTransportStream([m.flush()]).psi[1]!;
      assert.ok(pmt.crcOk);
      assert.deepEqual(pmt.streams, streams);
      assert.equal(pmt.pcrPid, pcrPid);
      versions.push(pmt.version);
    }
    assert.deepEqual(versions, [0, 1, 2, 3]);
    m.setTracks({ video: 'h264' }); // same tracks: same version
    m.writeTables();
    assert.equal(readTransportStream([m.flush()]).psi[1]!.version, 3);
  });

  it('honours custom PIDs and rejects clashing ones', () => {
    const m = new TsMuxer({ videoPid: 0x200, audioPid: 0x201, pmtPid: 0x300 });
    m.setTracks({ video: 'h264', audio: 'aac' });
    m.writeTables();
    m.writeVideo(bytes(10), 0, 0, true);
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.psi[0]!.programs!.get(1), 0x300);
    assert.deepEqual(
      r.psi[1]!.streams!.map((s) => s.pid),
      [0x200, 0x201],
    );
    assert.equal(r.pes[0]!.pid, 0x200);
    assert.throws(() => new TsMuxer({ videoPid: 0x100, audioPid: 0x100 }), RangeError);
  });

  it('packetizes every payload size exactly: 188-byte packets, stuffing, PES reassembles byte for byte', () => {
    const m = new TsMuxer({ audioPesMaxMs: 0 });
    m.setTracks({ video: 'h264', audio: 'aac' });
    m.writeTables();
    const inputs: Buffer[] = [];
    for (let n = 1; n <= 700; n++) {
      const b = bytes(n, n);
      inputs.push(b);
      // alternate: keyframe (PCR + RAI), B-frame (PTS ≠ DTS), plain
      m.writeVideo(b, n * 10 + (n % 3 === 1 ? 20 : 0), n * 10, n % 7 === 0);
    }
    const out = m.flush();
    assert.equal(out.length % TS_PACKET_BYTES, 0);
    const r = readTransportStream([out]);
    assert.deepEqual(r.problems, []);
    const video = r.pes.filter((p) => p.pid === V);
    assert.equal(video.length, inputs.length);
    video.forEach((p, i) => {
      assert.deepEqual(p.payload, inputs[i], `payload ${i + 1}`);
      assert.equal(p.streamId, 0xe0);
      assert.equal(p.declaredLength, 0, 'video PES length unbounded');
      assert.ok(p.dataAlignment);
      assert.equal(p.randomAccess, (i + 1) % 7 === 0);
    });
    for (let off = 0; off < out.length; off += TS_PACKET_BYTES) assert.equal(out[off], 0x47);
  });

  it('writes PTS and DTS as input ms × 90 with a 33-bit wrap; DTS only when it differs', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264' });
    m.writeTables();
    const wrapMs = Math.ceil(2 ** 33 / 90); // first ms past the wrap
    const times: [number, number][] = [
      [0, 0],
      [33, 100],
      [1234567, 1234600],
      [wrapMs - 40, wrapMs - 40],
      [wrapMs - 20, wrapMs + 30],
    ];
    for (const [dts, pts] of times) m.writeVideo(bytes(50), pts, dts, false);
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.problems, []);
    r.pes.forEach((p, i) => {
      const [dts, pts] = times[i]!;
      assert.equal(p.pts, (pts * 90) % 2 ** 33);
      assert.equal(p.dts, (dts * 90) % 2 ** 33);
    });
    assert.equal(r.pes[0]!.payload.length, 50);
    assert.equal(msTo90k(wrapMs), wrapMs * 90 - 2 ** 33);
    assert.equal(msTo90k(-1), 2 ** 33 - 90);
  });

  it('puts a PCR (DTS − lag, never below 0) in the first video packet of every PES and keeps it monotonic', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264', audio: 'aac' });
    m.writeTables();
    for (let i = 0; i < 30; i++) {
      m.writeVideo(bytes(1000), i * 33 + 66, i * 33, i === 0);
      m.writeAudio(adts(200), i * 33);
    }
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.problems, []);
    const video = r.pes.filter((p) => p.pid === V);
    const pcrs = r.pcrs.filter((p) => !p.pcrOnly);
    assert.equal(pcrs.length, video.length);
    assert.ok(pcrs.every((p) => p.pid === V));
    assert.equal(pcrs[0]!.base, 0, 'clamped at the start of the timeline');
    pcrs.forEach((p, i) => {
      assert.equal(p.base, Math.max(0, i * 33 - PCR_LAG_MS) * 90);
      assert.ok(p.base <= video[i]!.dts!);
    });
    // audio is not the PCR PID here
    assert.ok(!r.pcrs.some((p) => p.pid === A));
  });

  it('keeps the PCR going with adaptation-only packets when video frames are sparse', () => {
    const m = new TsMuxer({ audioPesMaxMs: 0 });
    m.setTracks({ video: 'h264', audio: 'aac' });
    m.writeTables();
    // 2 fps video, 23 ms audio
    for (let t = 0; t < 3000; t += 23) {
      if (t % 500 < 23) m.writeVideo(bytes(3000), t, t, true);
      m.writeAudio(adts(150), t);
    }
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.problems, []); // includes: PCR-only packets do not advance the CC
    const pcrs = r.pcrs.filter((p) => p.pid === V && p.base > 0);
    assert.ok(pcrs.some((p) => p.pcrOnly));
    for (let i = 1; i < pcrs.length; i++) {
      assert.ok(pcrs[i]!.base >= pcrs[i - 1]!.base, 'monotonic');
      assert.ok(pcrs[i]!.base - pcrs[i - 1]!.base <= 100 * 90, 'at most 100 ms apart');
    }
  });

  it('a PCR-only packet on a PID without packets yet does not break its continuity', () => {
    const m = new TsMuxer({ audioPesMaxMs: 0 });
    m.setTracks({ audio: 'aac' });
    m.writeTables();
    m.writeAudio(adts(100), 0);
    const first = m.flush();
    m.setTracks({ video: 'h264', audio: 'aac' }); // video turns up: PCR moves to the video PID
    m.writeTables();
    m.writeAudio(adts(100), 500);
    m.writeVideo(bytes(300), 520, 520, true);
    const r = readTransportStream([first, m.flush()]);
    assert.deepEqual(r.problems, []);
    assert.ok(r.pcrs.some((p) => p.pid === V && p.pcrOnly));
  });

  it('carries PCR on the audio PID for audio-only programs', () => {
    const m = new TsMuxer();
    m.setTracks({ audio: 'aac' });
    m.writeTables();
    for (let i = 0; i < 100; i++) m.writeAudio(adts(300), 1000 + i * 23);
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.problems, []);
    assert.ok(r.pcrs.length > 10);
    assert.ok(r.pcrs.every((p) => p.pid === A));
    assert.equal(r.pcrs[0]!.base, (1000 - PCR_LAG_MS) * 90);
  });

  it('gathers audio frames into one PES of at most ~90 ms with an exact PES_packet_length', () => {
    const m = new TsMuxer();
    m.setTracks({ audio: 'aac' });
    m.writeTables();
    const frames: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const f = adts(200 + i, i);
      frames.push(f);
      m.writeAudio(f, i * 23);
    }
    const r = readTransportStream([m.flush()]);
    assert.deepEqual(r.problems, []);
    const audio = r.pes.filter((p) => p.pid === A);
    assert.equal(audio.length, 10, 'four 23 ms frames per PES');
    audio.forEach((p, i) => {
      assert.equal(p.streamId, 0xc0);
      assert.equal(p.pts, i * 4 * 23 * 90);
      assert.equal(p.declaredLength, p.actualLength);
    });
    assert.deepEqual(Buffer.concat(audio.map((p) => p.payload)), Buffer.concat(frames));
    // one PES per frame when aggregation is off
    const single = new TsMuxer({ audioPesMaxMs: 0 });
    single.setTracks({ audio: 'aac' });
    for (let i = 0; i < 5; i++) single.writeAudio(adts(100), i * 23);
    assert.equal(readTransportStream([single.flush()]).pes.length, 5);
  });

  it('continues continuity counters per PID across flushes; only payload packets count', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264', audio: 'aac' });
    const segments: Buffer[] = [];
    let t = 0;
    for (let s = 0; s < 3; s++) {
      m.writeTables();
      for (let i = 0; i < 37; i++, t += 33) {
        m.writeVideo(bytes(500 + i * 97), t, t, i === 0);
        m.writeAudio(adts(180), t);
      }
      segments.push(m.flush());
    }
    const r = readTransportStream(segments);
    assert.deepEqual(r.problems, []);
    // the reader flags any gap; make sure counters really wrapped past 15 on every PID
    const perPid = new Map<number, number>();
    for (const seg of segments)
      for (let o = 0; o < seg.length; o += 188) {
        const pid = ((seg[o + 1]! & 0x1f) << 8) | seg[o + 2]!;
        perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
      }
    for (const pid of [0, 0x1000, V, A]) assert.ok((perPid.get(pid) ?? 0) >= 3, `PID ${pid}`);
    assert.ok((perPid.get(V) ?? 0) > 16 && (perPid.get(A) ?? 0) > 16);
    // a corrupted counter is detected by the reader (the check can fail)
    const bad = segments.map((s) => Buffer.from(s));
    bad[1]![3 + 188 * 5]! ^= 0x01;
    assert.ok(readTransportStream(bad).problems.some((p) => p.includes('CC')));
  });

  it('discard() drops an unfinished segment and rewinds the counters', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264' });
    m.writeTables();
    m.writeVideo(bytes(400), 0, 0, true);
    const first = m.flush();
    m.writeTables();
    m.writeVideo(bytes(4000), 33, 33, false);
    assert.ok(m.bufferedBytes > 0);
    m.discard();
    assert.equal(m.bufferedBytes, 0);
    m.writeTables();
    m.writeVideo(bytes(400), 66, 66, true);
    const second = m.flush();
    assert.deepEqual(readTransportStream([first, second]).problems, []);
  });

  it('takes Annex B as a list of parts without changing the bytes', () => {
    const m = new TsMuxer();
    m.setTracks({ video: 'h264' });
    const parts = [
      Buffer.from([0, 0, 0, 1, 9, 0xf0]),
      Buffer.from([0, 0, 0, 1]),
      Buffer.from([0x67, 1, 2, 3]),
      Buffer.from([0, 0, 0, 1]),
      Buffer.from([0x68, 4]),
      Buffer.from([0, 0, 0, 1]),
      bytes(1000).fill(0x65, 0, 1),
    ];
    m.writeVideo(parts, 0, 0, true);
    const [pes] = readTransportStream([m.flush()]).pes;
    assert.deepEqual(pes!.payload, Buffer.concat(parts));
    assert.deepEqual(annexBNalTypes(pes!.payload), [9, 7, 8, 5]);
  });
});
