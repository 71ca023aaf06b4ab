/**
 * MPEG-2 transport stream muxer (ISO/IEC 13818-1) for HLS segments: PAT/PMT with CRC-32, PES with
 * PTS/DTS on a 90 kHz clock (33-bit wrap), PCR, continuity counters that continue across segments
 * (flushes), adaptation-field stuffing, optional aggregation of short audio frames into one PES.
 *
 * Packets are written straight into one growing buffer that is reused from segment to segment;
 * flush() copies the finished segment out as a single Buffer. Written once per stream, never per
 * viewer.
 */
import { crc32Mpeg2 } from './crc32.ts';

export { crc32Mpeg2 } from './crc32.ts';

export const TS_PACKET_BYTES = 188;
export const PAT_PID = 0x0000;
export const DEFAULT_VIDEO_PID = 0x100;
export const DEFAULT_AUDIO_PID = 0x101;
export const DEFAULT_PMT_PID = 0x1000;

/** 2.4.4.9 Table 2-34 (+ ISO/IEC 13818-1 amendments): stream_type values written to the PMT. */
export const STREAM_TYPE_H264 = 0x1b;
export const STREAM_TYPE_HEVC = 0x24;
export const STREAM_TYPE_AAC_ADTS = 0x0f;
export const STREAM_TYPE_MPEG1_AUDIO = 0x03;
export const STREAM_TYPE_MPEG2_AUDIO = 0x04;

export const STREAM_ID_VIDEO = 0xe0;
export const STREAM_ID_AUDIO = 0xc0;

export interface TsMuxerOptions {
  videoPid?: number;
  audioPid?: number;
  pmtPid?: number;
  /**
   * Audio frames are gathered into one PES until this much audio (by PTS) is pending, cutting the
   * per-frame PES/packet overhead (ffmpeg and SRS do the same). 0 writes one PES per frame.
   * Must stay below PCR_LAG_MS so aggregated audio still arrives before its PTS. Default 90.
   */
  audioPesMaxMs?: number;
}

export type TsTrack = {
  video?: 'h264' | 'hevc';
  audio?: 'aac' | 'mp3';
  /** MPEG audio below 32 kHz is MPEG-2 (LSF) audio: stream_type 0x04 instead of 0x03. */
  audioSampleRateHz?: number;
};

/** PCR runs this far behind the DTS it is derived from (the decoder's buffering margin). */
export const PCR_LAG_MS = 200;
/** An extra adaptation-only PCR packet is inserted when the PCR would otherwise lag by this much. */
export const PCR_MAX_INTERVAL_MS = 40;

const WRAP_33 = 2 ** 33;
const MAX_AUDIO_PES_PAYLOAD = 0xffff - 8 - 64; // PES_packet_length must fit 16 bits
const INITIAL_CAPACITY = 256 * 1024;
const SHRINK_ABOVE = 16 * 1024 * 1024;

/** Milliseconds on the input timeline to a 33-bit 90 kHz timestamp. */
export function msTo90k(ms: number): number {
  const t = Math.round(ms * 90) % WRAP_33;
  return t < 0 ? t + WRAP_33 : t;
}

type Payload = Buffer | readonly Buffer[];

export class TsMuxer {
  readonly videoPid: number;
  readonly audioPid: number;
  readonly pmtPid: number;
  private readonly audioPesMaxMs: number;
  private tracks: TsTrack = {};
  private pmtVersion = 0;
  private pmtKey = '';
  /** Last continuity_counter written per PID (-1: none yet). Kept across flushes. */
  private readonly cc = new Map<number, number>();
  /** Counters as they were at the last flush, for discard(). */
  private ccAtFlush = new Map<number, number>();
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private len = 0;
  private readonly pesHeader = Buffer.alloc(19);
  private lastPcr = -1;
  private lastPcrMs = 0;
  private pendingAudio: Buffer[] = [];
  private pendingAudioBytes = 0;
  private pendingAudioPts = 0;

  constructor(options?: TsMuxerOptions) {
    this.videoPid = options?.videoPid ?? DEFAULT_VIDEO_PID;
    this.audioPid = options?.audioPid ?? DEFAULT_AUDIO_PID;
    this.pmtPid = options?.pmtPid ?? DEFAULT_PMT_PID;
    this.audioPesMaxMs = options?.audioPesMaxMs ?? 90;
    const pids = [PAT_PID, this.videoPid, this.audioPid, this.pmtPid];
    if (new Set(pids).size !== pids.length || pids.some((p) => p < 0 || p > 0x1ffe))
      throw new RangeError(`TsMuxer: PIDs must be distinct and within 0..0x1FFE (${pids.join(', ')})`);
  }

  /** (Re)defines the PMT's elementary streams; takes effect at the next writeTables(). */
  setTracks(tracks: TsTrack): void {
    this.tracks = { ...tracks };
    const key = `${this.streamType('video') ?? ''}/${this.streamType('audio') ?? ''}`;
    if (this.pmtKey !== '' && key !== this.pmtKey) this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
    this.pmtKey = key;
  }

  get currentTracks(): Readonly<TsTrack> {
    return this.tracks;
  }

  /** The PID carrying PCR: video when there is video, otherwise audio. */
  get pcrPid(): number {
    return this.tracks.video ? this.videoPid : this.audioPid;
  }

  /** Bytes written since the last flush (whole packets, excluding audio still being gathered). */
  get bufferedBytes(): number {
    return this.len;
  }

  private streamType(kind: 'video' | 'audio'): number | undefined {
    if (kind === 'video') {
      if (this.tracks.video === 'h264') return STREAM_TYPE_H264;
      if (this.tracks.video === 'hevc') return STREAM_TYPE_HEVC;
      return undefined;
    }
    if (this.tracks.audio === 'aac') return STREAM_TYPE_AAC_ADTS;
    if (this.tracks.audio === 'mp3') {
      const rate = this.tracks.audioSampleRateHz;
      return rate !== undefined && rate > 0 && rate < 32000
        ? STREAM_TYPE_MPEG2_AUDIO
        : STREAM_TYPE_MPEG1_AUDIO;
    }
    return undefined;
  }

  /** PAT + PMT, one packet each. The segmenter writes them at the start of every segment. */
  writeTables(): void {
    this.flushAudio();
    // 2.4.4.3 program_association_section: one program (1) → PMT PID
    const pat = this.beginPsiPacket(PAT_PID);
    let o = pat + 1; // after pointer_field
    const patStart = o;
    this.buf[o++] = 0x00; // table_id
    const patSectionLength = 5 + 4 + 4;
    this.buf.writeUInt16BE(0xb000 | patSectionLength, o); // syntax 1, '0', reserved '11'
    o += 2;
    this.buf.writeUInt16BE(1, o); // transport_stream_id
    o += 2;
    this.buf[o++] = 0xc1; // reserved '11', version 0, current_next 1
    this.buf[o++] = 0; // section_number
    this.buf[o++] = 0; // last_section_number
    this.buf.writeUInt16BE(1, o); // program_number
    o += 2;
    this.buf.writeUInt16BE(0xe000 | this.pmtPid, o);
    o += 2;
    this.buf.writeUInt32BE(crc32Mpeg2(this.buf, patStart, o), o);

    // 2.4.4.8 TS_program_map_section
    const pmt = this.beginPsiPacket(this.pmtPid);
    o = pmt + 1;
    const pmtStart = o;
    const video = this.streamType('video');
    const audio = this.streamType('audio');
    const esCount = (video !== undefined ? 1 : 0) + (audio !== undefined ? 1 : 0);
    this.buf[o++] = 0x02; // table_id
    this.buf.writeUInt16BE(0xb000 | (9 + 5 * esCount + 4), o);
    o += 2;
    this.buf.writeUInt16BE(1, o); // program_number
    o += 2;
    this.buf[o++] = 0xc1 | (this.pmtVersion << 1);
    this.buf[o++] = 0;
    this.buf[o++] = 0;
    this.buf.writeUInt16BE(0xe000 | this.pcrPid, o); // reserved '111', PCR_PID
    o += 2;
    this.buf.writeUInt16BE(0xf000, o); // reserved '1111', program_info_length 0
    o += 2;
    const es = (type: number, pid: number) => {
      this.buf[o++] = type;
      this.buf.writeUInt16BE(0xe000 | pid, o);
      this.buf.writeUInt16BE(0xf000, o + 2); // ES_info_length 0
      o += 4;
    };
    if (video !== undefined) es(video, this.videoPid);
    if (audio !== undefined) es(audio, this.audioPid);
    this.buf.writeUInt32BE(crc32Mpeg2(this.buf, pmtStart, o), o);
  }

  /**
   * One video access unit in Annex B form (start codes included; a list of parts is written as if
   * concatenated). PTS and DTS are input-timeline milliseconds; PCR (DTS − PCR_LAG_MS) goes in the
   * first packet, random_access_indicator on keyframes.
   */
  writeVideo(annexB: Payload, ptsMs: number, dtsMs: number, isKey: boolean): void {
    const dts = msTo90k(dtsMs);
    const pts = msTo90k(Math.max(ptsMs, dtsMs));
    const pcr = this.pcrPid === this.videoPid ? this.nextPcr(dtsMs) : undefined;
    this.writePes(this.videoPid, STREAM_ID_VIDEO, annexB, pts, pts === dts ? undefined : dts, pcr, isKey);
  }

  /** One audio frame (AAC with its ADTS header, or an MPEG audio frame as is). */
  writeAudio(frame: Payload, ptsMs: number): void {
    const bytes = Buffer.isBuffer(frame) ? frame.length : frame.reduce((n, b) => n + b.length, 0);
    if (
      this.pendingAudio.length > 0 &&
      (ptsMs - this.pendingAudioPts >= this.audioPesMaxMs ||
        ptsMs < this.pendingAudioPts ||
        this.pendingAudioBytes + bytes > MAX_AUDIO_PES_PAYLOAD)
    )
      this.flushAudio();
    if (this.pendingAudio.length === 0) this.pendingAudioPts = ptsMs;
    if (Buffer.isBuffer(frame)) this.pendingAudio.push(frame);
    else this.pendingAudio.push(...frame);
    this.pendingAudioBytes += bytes;
    if (this.audioPesMaxMs <= 0 || this.pendingAudioBytes >= MAX_AUDIO_PES_PAYLOAD) this.flushAudio();
  }

  /** Writes gathered audio frames as one PES now (flush() and writeTables() do this themselves). */
  flushAudio(): void {
    if (this.pendingAudio.length === 0) return;
    const ptsMs = this.pendingAudioPts;
    let pcr: number | undefined;
    if (this.pcrPid === this.audioPid) pcr = this.nextPcr(ptsMs);
    else if (this.lastPcr >= 0 && ptsMs - PCR_LAG_MS - this.lastPcrMs >= PCR_MAX_INTERVAL_MS) {
      // Video is the PCR PID but no frame came for a while (low frame rate): keep the clock ticking.
      this.writePcrOnly(this.videoPid, this.nextPcr(ptsMs));
    }
    const parts = this.pendingAudio;
    this.pendingAudio = [];
    this.pendingAudioBytes = 0;
    this.writePes(this.audioPid, STREAM_ID_AUDIO, parts, msTo90k(ptsMs), undefined, pcr, false);
  }

  /** Takes the packets written since the last flush as one Buffer (a multiple of 188 bytes). */
  flush(): Buffer {
    this.flushAudio();
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    if (this.buf.length > SHRINK_ABOVE) this.buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
    this.ccAtFlush = new Map(this.cc);
    return out;
  }

  /**
   * Drops everything written since the last flush (an unfinished segment that will not be
   * published) and rewinds the continuity counters, so the next segment continues the last one.
   */
  discard(): void {
    this.pendingAudio = [];
    this.pendingAudioBytes = 0;
    this.len = 0;
    this.cc.clear();
    for (const [pid, c] of this.ccAtFlush) this.cc.set(pid, c);
  }

  /** PCR from a timeline position, never going backwards within the program. */
  private nextPcr(sourceMs: number): number {
    // At the very start of the timeline the PCR stays at 0 instead of wrapping below it.
    const ms = Math.max(0, sourceMs - PCR_LAG_MS);
    let pcr = msTo90k(ms);
    if (this.lastPcr >= 0) {
      const back = (this.lastPcr - pcr + WRAP_33) % WRAP_33;
      // Slightly behind the last PCR (interleaving jitter): hold it. A large jump is a new timeline.
      if (back > 0 && back < 90 * 1000) pcr = this.lastPcr;
      else this.lastPcrMs = ms;
    } else this.lastPcrMs = ms;
    this.lastPcr = pcr;
    return pcr;
  }

  private ensure(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + bytes) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private nextCc(pid: number): number {
    const c = ((this.cc.get(pid) ?? -1) + 1) & 0x0f;
    this.cc.set(pid, c);
    return c;
  }

  /** Starts a PSI packet (pointer_field 0, rest 0xFF); returns the pointer_field offset. */
  private beginPsiPacket(pid: number): number {
    this.ensure(TS_PACKET_BYTES);
    const p = this.len;
    this.buf.fill(0xff, p, p + TS_PACKET_BYTES);
    this.buf[p] = 0x47;
    this.buf[p + 1] = 0x40 | ((pid >> 8) & 0x1f); // payload_unit_start_indicator
    this.buf[p + 2] = pid & 0xff;
    this.buf[p + 3] = 0x10 | this.nextCc(pid); // payload only
    this.buf[p + 4] = 0; // pointer_field
    this.len += TS_PACKET_BYTES;
    return p + 4;
  }

  /** An adaptation-field-only packet carrying a PCR; the continuity counter does not advance. */
  private writePcrOnly(pid: number, pcr: number): void {
    this.ensure(TS_PACKET_BYTES);
    const p = this.len;
    this.buf[p] = 0x47;
    this.buf[p + 1] = (pid >> 8) & 0x1f;
    this.buf[p + 2] = pid & 0xff;
    let c = this.cc.get(pid);
    if (c === undefined) {
      c = 15; // so the PID's first payload packet (counter 0) follows on
      this.cc.set(pid, c);
    }
    this.buf[p + 3] = 0x20 | c;
    this.buf[p + 4] = 183; // adaptation_field_length: the rest of the packet
    this.buf[p + 5] = 0x10; // PCR_flag
    writePcr(this.buf, p + 6, pcr);
    this.buf.fill(0xff, p + 12, p + TS_PACKET_BYTES);
    this.len += TS_PACKET_BYTES;
  }

  private writePes(
    pid: number,
    streamId: number,
    payload: Payload,
    pts: number,
    dts: number | undefined,
    pcr: number | undefined,
    randomAccess: boolean,
  ): void {
    const parts: readonly Buffer[] = Buffer.isBuffer(payload) ? [payload] : payload;
    let payloadBytes = 0;
    for (const b of parts) payloadBytes += b.length;

    // 2.4.3.6 PES packet header
    const h = this.pesHeader;
    const headerDataLength = dts === undefined ? 5 : 10;
    h[0] = 0;
    h[1] = 0;
    h[2] = 1;
    h[3] = streamId;
    const pesLength = 3 + headerDataLength + payloadBytes;
    // 0 (unbounded) is allowed for video only; audio PES are kept below 64 KiB by writeAudio().
    h.writeUInt16BE(streamId === STREAM_ID_VIDEO || pesLength > 0xffff ? 0 : pesLength, 4);
    h[6] = 0x84; // '10', not scrambled, data_alignment_indicator (access units start here)
    h[7] = dts === undefined ? 0x80 : 0xc0; // PTS_DTS_flags
    h[8] = headerDataLength;
    writeTimestamp(h, 9, dts === undefined ? 0x2 : 0x3, pts);
    if (dts !== undefined) writeTimestamp(h, 14, 0x1, dts);
    const headerBytes = 9 + headerDataLength;
    const total = headerBytes + payloadBytes;

    const packets = Math.ceil((total + 8) / (TS_PACKET_BYTES - 4)) + 1;
    this.ensure(packets * TS_PACKET_BYTES);
    const buf = this.buf;
    let written = 0; // bytes of [header, ...parts] written
    let part = -1; // -1: the PES header
    let partOff = 0;
    let first = true;
    while (written < total) {
      const p = this.len;
      buf[p] = 0x47;
      buf[p + 1] = (first ? 0x40 : 0) | ((pid >> 8) & 0x1f);
      buf[p + 2] = pid & 0xff;
      const withPcr = first && pcr !== undefined;
      const withRai = first && randomAccess;
      // adaptation field bytes including adaptation_field_length
      let af = withPcr ? 8 : withRai ? 2 : 0;
      const room = TS_PACKET_BYTES - 4 - af;
      const remaining = total - written;
      if (remaining < room) af += room - remaining; // stuffing: the last packet ends exactly
      buf[p + 3] = (af > 0 ? 0x30 : 0x10) | this.nextCc(pid);
      let o = p + 4;
      if (af > 0) {
        buf[o] = af - 1; // adaptation_field_length
        if (af > 1) {
          buf[o + 1] = (withRai ? 0x40 : 0) | (withPcr ? 0x10 : 0);
          let s = o + 2;
          if (withPcr) {
            writePcr(buf, s, pcr!);
            s += 6;
          }
          buf.fill(0xff, s, o + af);
        }
        o += af;
      }
      // payload: copy from the PES header, then the parts, until the packet is full
      const end = p + TS_PACKET_BYTES;
      while (o < end) {
        if (part < 0) {
          const n = Math.min(end - o, headerBytes - partOff);
          h.copy(buf, o, partOff, partOff + n);
          o += n;
          partOff += n;
          written += n;
          if (partOff === headerBytes) {
            part = 0;
            partOff = 0;
          }
        } else {
          const src = parts[part]!;
          const n = Math.min(end - o, src.length - partOff);
          src.copy(buf, o, partOff, partOff + n);
          o += n;
          partOff += n;
          written += n;
          if (partOff === src.length) {
            part++;
            partOff = 0;
          }
        }
      }
      this.len += TS_PACKET_BYTES;
      first = false;
    }
  }
}

/** 2.4.3.7: a 33-bit PTS/DTS in 5 bytes with a 4-bit prefix and marker bits. */
function writeTimestamp(buf: Buffer, off: number, prefix: number, ts: number): void {
  const hi = Math.floor(ts / 2 ** 30) & 0x07;
  const mid = Math.floor(ts / 2 ** 15) & 0x7fff;
  const lo = ts & 0x7fff;
  buf[off] = (prefix << 4) | (hi << 1) | 1;
  buf.writeUInt16BE(((mid << 1) | 1) & 0xffff, off + 1);
  buf.writeUInt16BE(((lo << 1) | 1) & 0xffff, off + 3);
}

/** 2.4.3.5: program_clock_reference_base (33 bits), 6 reserved bits, extension (9 bits) = 0. */
function writePcr(buf: Buffer, off: number, base: number): void {
  buf[off] = Math.floor(base / 2 ** 25) & 0xff;
  buf[off + 1] = Math.floor(base / 2 ** 17) & 0xff;
  buf[off + 2] = Math.floor(base / 2 ** 9) & 0xff;
  buf[off + 3] = Math.floor(base / 2) & 0xff;
  buf[off + 4] = ((base % 2) << 7) | 0x7e;
  buf[off + 5] = 0;
}
