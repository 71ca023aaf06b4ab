/**
 * MPEG-TS demuxer for live ingest (ISO/IEC 13818-1): bytes in any splits → FLV-equivalent tags
 * (media/tag.ts) on one monotonic millisecond timeline.
 *
 * Nothing in the stream ever makes push() throw: sync loss, continuity gaps, bad PSI/PES, codecs we
 * cannot carry (LATM, AC-3, MPEG-2 video) are counted in `stats` and reported as MediaErrors through
 * takeProblems(). Memory is bounded: at most one partial packet, one section per PSI PID and one
 * PES (maxPesBytes) per elementary stream are held.
 *
 * Timestamps: PTS/DTS are 33-bit 90 kHz values; they are unwrapped against the program's last DTS,
 * and a jump beyond jumpToleranceMs forwards or backwardToleranceMs backwards (a source restart, a splice, PCR discontinuity_indicator) is
 * a discontinuity: the timeline continues from where it was, so the output never goes backwards.
 */
import { MediaError, type MediaErrorCode } from '../errors.ts';
import type { MediaTag } from '../tag.ts';
import { crc32Mpeg2 } from './crc32.ts';
import {
  AdtsConverter,
  type AudioConverter,
  AvcConverter,
  HevcConverter,
  MpegAudioConverter,
  type VideoConverter,
} from './elementary.ts';

const PACKET = 188;
const SYNC = 0x47;
const NULL_PID = 0x1fff;
const WRAP_33 = 2 ** 33;
const HALF_WRAP = 2 ** 32;
const MAX_SECTION_BYTES = 1024; // PAT/PMT section_length ≤ 1021 (2.4.4.3, 2.4.4.8)
const MAX_PROBLEMS = 64;

export interface TsDemuxerOptions {
  /** program_number to take from the PAT; default: the first program listed. */
  programNumber?: number;
  /** A PES larger than this is dropped (a PES error). Default 4 MiB. */
  maxPesBytes?: number;
  /** A forward timestamp jump larger than this is a discontinuity. Default 10 000 ms. */
  jumpToleranceMs?: number;
  /**
   * A backward step larger than this is a discontinuity (an encoder restarted a few seconds in).
   * Audio and video DTS interleave within the muxer's max delay (0.7 s in ffmpeg), so it stays
   * above that. Default 2000 ms.
   */
  backwardToleranceMs?: number;
}

export interface TsDemuxerStats {
  packets: number;
  bytes: number;
  /** Times the reader lost the 0x47 sync and searched for it again. */
  syncLosses: number;
  /** Bytes skipped while searching for sync. */
  skippedBytes: number;
  ccErrors: number;
  pesErrors: number;
  psiErrors: number;
  /** Packets with transport_error_indicator set (the demodulator flagged them). */
  transportErrors: number;
  discontinuities: number;
  pmtChanges: number;
  tags: number;
}

export interface TsElementaryStream {
  pid: number;
  streamType: number;
  codec: 'h264' | 'hevc' | 'aac' | 'mpeg-audio';
}

export interface TsProgramInfo {
  programNumber: number;
  pmtPid: number;
  pcrPid: number;
  video?: TsElementaryStream;
  audio?: TsElementaryStream;
}

interface PesState {
  es: TsElementaryStream;
  video?: VideoConverter;
  audio?: AudioConverter;
  parts: Buffer[];
  bytes: number;
  /** PES_packet_length + 6 when bounded, 0 when unbounded (video). */
  expected: number;
}

interface SectionState {
  buf: Buffer;
  len: number;
}

/** Stream types (ISO/IEC 13818-1 Table 2-34 and registrations) we carry, and those we refuse. */
const SUPPORTED: Record<number, TsElementaryStream['codec']> = {
  27: 'h264',
  36: 'hevc',
  15: 'aac',
  3: 'mpeg-audio',
  4: 'mpeg-audio',
};
const REFUSED: Record<number, string> = {
  1: 'MPEG-1 video',
  2: 'MPEG-2 video',
  16: 'MPEG-4 Part 2 video',
  17: 'AAC in LATM/LOAS',
  129: 'AC-3',
  135: 'E-AC-3',
  66: 'AVS video',
  210: 'AVS2 video',
};

export class TsDemuxer {
  readonly stats: TsDemuxerStats = {
    packets: 0,
    bytes: 0,
    syncLosses: 0,
    skippedBytes: 0,
    ccErrors: 0,
    pesErrors: 0,
    psiErrors: 0,
    transportErrors: 0,
    discontinuities: 0,
    pmtChanges: 0,
    tags: 0,
  };
  private readonly programNumber: number | undefined;
  private readonly maxPesBytes: number;
  private readonly jumpTolerance90k: number;
  private readonly backwardTolerance90k: number;
  private pending: Buffer | undefined;
  private inSync = false;
  /** Last payload packet of each PID we use: its continuity_counter, and to recognise a duplicate. */
  private readonly lastPacket = new Map<number, Buffer>();
  private readonly sections = new Map<number, SectionState>();
  private pmtPid = -1;
  private patVersion = -1;
  private program: TsProgramInfo | undefined;
  private pmtKey = '';
  private readonly pes = new Map<number, PesState>();
  private problems: MediaError[] = [];
  private out: MediaTag[] = [];
  // timeline: output90k = unwrapped + offset90k
  private lastExt: number | undefined;
  private offset90k = 0;
  private lastOutMs = 0;
  private lastVideoMs = -1;
  private lastAudioMs = -1;
  private discontinuityPending = false;

  constructor(options?: TsDemuxerOptions) {
    this.programNumber = options?.programNumber;
    this.maxPesBytes = options?.maxPesBytes ?? 4 * 1024 * 1024;
    this.jumpTolerance90k = (options?.jumpToleranceMs ?? 10_000) * 90;
    this.backwardTolerance90k = (options?.backwardToleranceMs ?? 2000) * 90;
  }

  /** The selected program as the last PAT/PMT described it. */
  get programInfo(): TsProgramInfo | undefined {
    return this.program;
  }

  /** Problems since the last call (at most 64 kept; the counters in `stats` are complete). */
  takeProblems(): MediaError[] {
    const p = this.problems;
    this.problems = [];
    return p;
  }

  /** Feeds bytes (any split); returns the tags completed by them. */
  push(chunk: Buffer): MediaTag[] {
    this.stats.bytes += chunk.length;
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    while (buf.length - pos >= PACKET) {
      // a packet is taken when the next one starts with 0x47 too; the last one in the buffer only while
      // in sync (out of sync it waits for more bytes to confirm)
      const confirmed = buf.length - pos >= 2 * PACKET ? buf[pos + PACKET] === SYNC : this.inSync;
      if (buf[pos] === SYNC && confirmed) {
        this.inSync = true;
        this.packet(buf.subarray(pos, pos + PACKET));
        pos += PACKET;
        continue;
      }
      if (buf[pos] === SYNC && buf.length - pos < 2 * PACKET && !this.inSync) break;
      if (this.inSync) {
        this.inSync = false;
        this.stats.syncLosses++;
        this.problem('RC_TS_SYNC_LOST', 'MPEG-TS: sync byte 0x47 lost, searching for it');
      }
      const next = buf.indexOf(SYNC, pos + 1);
      const to = next < 0 ? buf.length : next;
      this.stats.skippedBytes += to - pos;
      pos = to;
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos)); // < 2 packets, copied so input can be reused
    return this.drain();
  }

  /**
   * The input continues from another clock or encoder, or after a known loss (an HLS
   * EXT-X-DISCONTINUITY or a skipped segment): PES still open are flushed (returned), the next
   * timestamps continue the output timeline from where it is instead of being compared with the
   * last ones, and continuity counters start afresh (not counted as errors).
   */
  discontinuity(): MediaTag[] {
    const out = this.end();
    if (this.lastExt !== undefined) this.discontinuityPending = true;
    this.lastPacket.clear();
    return out;
  }

  /** Flushes unbounded PES (video) still open: call when the input has ended. */
  end(): MediaTag[] {
    for (const state of this.pes.values()) this.finishPes(state);
    return this.drain();
  }

  private drain(): MediaTag[] {
    const out = this.out;
    this.out = [];
    this.stats.tags += out.length;
    return out;
  }

  private problem(code: MediaErrorCode, message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(new MediaError(code, message));
  }

  // ISO/IEC 13818-1 2.4.3.2: transport packet
  private packet(p: Buffer): void {
    this.stats.packets++;
    const b1 = p[1]!;
    if (b1 & 0x80) {
      this.stats.transportErrors++; // transport_error_indicator
      return;
    }
    const pid = ((b1 & 0x1f) << 8) | p[2]!;
    if (pid === NULL_PID) return;
    const pusi = (b1 & 0x40) !== 0;
    const afc = (p[3]! >> 4) & 3; // adaptation_field_control
    const counter = p[3]! & 0x0f;
    if (afc === 0) return; // reserved: no adaptation field, no payload
    let payloadStart = 4;
    let discontinuity = false;
    if (afc & 2) {
      const afLength = p[4]!;
      if (afLength > 183 || (afc === 3 && afLength > 182)) {
        this.stats.pesErrors++;
        this.problem('RC_TS_PES_INVALID', `MPEG-TS: adaptation_field_length ${afLength} on PID ${pid}`);
        return;
      }
      if (afLength > 0) {
        const flags = p[5]!;
        discontinuity = (flags & 0x80) !== 0; // discontinuity_indicator
        const isPcrPid = this.program !== undefined && pid === this.program.pcrPid;
        if (discontinuity && isPcrPid && this.lastExt !== undefined) this.discontinuityPending = true;
        if (flags & 0x10 && afLength >= 7 && isPcrPid && this.lastExt === undefined) {
          // 2.4.3.5 program_clock_reference_base (33 bits): the first PCR anchors the timeline, so the
          // first PES of any stream (PTS ≥ PCR) lands at or after 0
          const base = p[6]! * 2 ** 25 + p[7]! * 2 ** 17 + p[8]! * 2 ** 9 + p[9]! * 2 + (p[10]! >> 7);
          this.lastExt = base;
          this.offset90k = -base;
        }
      }
      payloadStart = 5 + afLength;
    }
    // Packets of PIDs outside the selected program are not ours to judge: skipped before any state.
    if (pid !== 0 && pid !== this.pmtPid && !this.pes.has(pid)) return;
    // 2.4.3.3 continuity_counter: +1 per packet with payload (packets without payload repeat the last
    // value); a duplicate is an identical copy of the previous packet, same counter with other bytes a gap
    if (afc & 1) {
      let last = this.lastPacket.get(pid);
      if (last && !discontinuity) {
        const prev = last[3]! & 0x0f;
        if (counter === prev && last.equals(p)) return; // duplicate
        if (counter !== ((prev + 1) & 0x0f)) {
          this.stats.ccErrors++;
          this.problem(
            'RC_TS_CC_ERROR',
            `MPEG-TS: continuity counter on PID ${pid} went ${prev} → ${counter}`,
          );
          const state = this.pes.get(pid);
          if (state && state.bytes > 0) this.dropPes(state, 'packets lost inside it');
          this.sections.delete(pid);
        }
      }
      if (!last) {
        last = Buffer.allocUnsafe(PACKET);
        this.lastPacket.set(pid, last);
      }
      p.copy(last);
    }
    if (!(afc & 1) || payloadStart >= PACKET) return;
    const payload = p.subarray(payloadStart);
    if (pid === 0 || pid === this.pmtPid) this.psi(pid, payload, pusi);
    else {
      const state = this.pes.get(pid);
      if (state) this.pesPayload(state, payload, pusi);
    }
  }

  // ---- PSI (2.4.4) ----

  private psi(pid: number, payload: Buffer, pusi: boolean): void {
    let data = payload;
    let section = this.sections.get(pid);
    if (pusi) {
      const pointer = data[0]!;
      if (1 + pointer > data.length) {
        this.psiError(pid, `pointer_field ${pointer} beyond the packet`);
        this.sections.delete(pid);
        return;
      }
      if (section) this.sectionBytes(pid, section, data.subarray(1, 1 + pointer));
      section = { buf: Buffer.allocUnsafe(MAX_SECTION_BYTES + PACKET), len: 0 };
      this.sections.set(pid, section);
      data = data.subarray(1 + pointer);
    } else if (!section) return; // continuation of a section we did not see start
    this.sectionBytes(pid, section, data);
  }

  private sectionBytes(pid: number, section: SectionState, data: Buffer): void {
    if (section.len === 0 && data.length > 0 && data[0] === 0xff) {
      this.sections.delete(pid); // stuffing until the next payload_unit_start
      return;
    }
    if (section.len + data.length > section.buf.length) {
      this.psiError(pid, 'section overruns its buffer');
      this.sections.delete(pid);
      return;
    }
    data.copy(section.buf, section.len);
    section.len += data.length;
    while (section.len >= 3) {
      const total = 3 + (section.buf.readUInt16BE(1) & 0x0fff);
      if (total > MAX_SECTION_BYTES || total < 12) {
        this.psiError(pid, `section_length ${total - 3}`);
        this.sections.delete(pid);
        return;
      }
      if (section.len < total) return;
      const body = Buffer.from(section.buf.subarray(0, total));
      section.buf.copyWithin(0, total, section.len); // another section may follow in the same payload
      section.len -= total;
      this.table(pid, body);
      if (this.sections.get(pid) !== section) return;
      if (section.len > 0 && section.buf[0] === 0xff) {
        this.sections.delete(pid);
        return;
      }
    }
  }

  private psiError(pid: number, what: string): void {
    this.stats.psiErrors++;
    this.problem('RC_TS_PSI_INVALID', `MPEG-TS: bad PSI on PID ${pid}: ${what}`);
  }

  private table(pid: number, s: Buffer): void {
    if (crc32Mpeg2(s) !== 0) {
      this.psiError(pid, 'CRC_32 mismatch');
      return;
    }
    const tableId = s[0]!;
    if (!(s[5]! & 1)) return; // current_next_indicator 0: not applicable yet
    if (pid === 0 && tableId === 0) this.pat(s);
    else if (pid === this.pmtPid && tableId === 2) this.pmt(s);
  }

  // 2.4.4.3 program_association_section
  private pat(s: Buffer): void {
    const version = (s[5]! >> 1) & 0x1f;
    let chosen: { number: number; pid: number } | undefined;
    for (let k = 8; k + 4 <= s.length - 4; k += 4) {
      const number = s.readUInt16BE(k);
      const pmtPid = s.readUInt16BE(k + 2) & 0x1fff;
      if (number === 0) continue; // network_PID
      if (this.programNumber === undefined ? !chosen : number === this.programNumber) {
        chosen = { number, pid: pmtPid };
      }
    }
    if (chosen && (chosen.pid === 0 || chosen.pid === NULL_PID)) {
      this.psiError(0, `program ${chosen.number} has PMT PID ${chosen.pid}`);
      return;
    }
    if (!chosen) {
      if (version !== this.patVersion)
        this.problem(
          'RC_TS_PROGRAM_NOT_FOUND',
          this.programNumber === undefined
            ? 'MPEG-TS: the PAT lists no program'
            : `MPEG-TS: program ${this.programNumber} is not in the PAT; choose one the source carries`,
        );
      this.patVersion = version;
      return;
    }
    this.patVersion = version;
    if (chosen.pid !== this.pmtPid) {
      if (this.pmtPid >= 0) this.sections.delete(this.pmtPid);
      this.pmtPid = chosen.pid;
      this.program = undefined;
      this.pmtKey = '';
    }
    if (!this.program || this.program.programNumber !== chosen.number)
      this.program = { programNumber: chosen.number, pmtPid: chosen.pid, pcrPid: NULL_PID };
  }

  // 2.4.4.8 TS_program_map_section
  private pmt(s: Buffer): void {
    const programNumber = s.readUInt16BE(3);
    if (!this.program || programNumber !== this.program.programNumber) return;
    const pcrPid = s.readUInt16BE(8) & 0x1fff;
    const infoLength = s.readUInt16BE(10) & 0x0fff;
    let video: TsElementaryStream | undefined;
    let audio: TsElementaryStream | undefined;
    const refused: string[] = [];
    for (let k = 12 + infoLength; k + 5 <= s.length - 4; ) {
      let streamType = s[k]!;
      const pid = s.readUInt16BE(k + 1) & 0x1fff;
      const esInfoLength = s.readUInt16BE(k + 3) & 0x0fff;
      if (streamType === 0x06) {
        // PES private data: AC-3 / E-AC-3 descriptors (ETSI EN 300 468 Annex D) say what it is
        for (let d = k + 5; d + 2 <= Math.min(k + 5 + esInfoLength, s.length - 4); d += 2 + s[d + 1]!) {
          if (s[d] === 0x6a) streamType = 0x81;
          else if (s[d] === 0x7a) streamType = 0x87;
        }
      }
      const codec = SUPPORTED[streamType];
      if (codec === 'h264' || codec === 'hevc') video ??= { pid, streamType, codec };
      else if (codec) audio ??= { pid, streamType, codec };
      else if (REFUSED[streamType])
        refused.push(`${REFUSED[streamType]} (stream_type 0x${streamType.toString(16)})`);
      k += 5 + esInfoLength;
    }
    const key = `${pcrPid}/${video?.pid}:${video?.streamType}/${audio?.pid}:${audio?.streamType}`;
    if (key === this.pmtKey) return;
    if (this.pmtKey !== '') this.stats.pmtChanges++;
    this.pmtKey = key;
    if (refused.length > 0 && (!video || !audio))
      this.problem(
        'RC_TS_CODEC_UNSUPPORTED',
        `MPEG-TS: ${refused.join(', ')} cannot be carried without transcoding; send H.264/H.265 with AAC (ADTS) or MP2/MP3`,
      );
    this.program = { programNumber, pmtPid: this.program.pmtPid, pcrPid, video, audio };
    for (const pid of this.lastPacket.keys())
      if (pid !== 0 && pid !== this.pmtPid && pid !== video?.pid && pid !== audio?.pid)
        this.lastPacket.delete(pid);
    const keep = new Map(this.pes);
    this.pes.clear();
    for (const es of [video, audio]) {
      if (!es) continue;
      const old = keep.get(es.pid);
      if (old && old.es.streamType === es.streamType) {
        this.pes.set(es.pid, old);
        continue;
      }
      this.pes.set(es.pid, {
        es,
        video:
          es.codec === 'h264' ? new AvcConverter() : es.codec === 'hevc' ? new HevcConverter() : undefined,
        audio:
          es.codec === 'aac'
            ? new AdtsConverter()
            : es.codec === 'mpeg-audio'
              ? new MpegAudioConverter()
              : undefined,
        parts: [],
        bytes: 0,
        expected: 0,
      });
    }
  }

  // ---- PES (2.4.3.6) ----

  private pesPayload(state: PesState, payload: Buffer, pusi: boolean): void {
    if (pusi) {
      if (state.bytes > 0) this.finishPes(state);
      if (payload.length < 6 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) {
        this.pesError(state, 'no packet_start_code_prefix');
        return;
      }
      const length = payload.readUInt16BE(4);
      state.expected = length === 0 ? 0 : length + 6;
    } else if (state.bytes === 0) return; // the start of this PES was lost
    if (state.bytes + payload.length > this.maxPesBytes) {
      this.dropPes(state, `larger than ${this.maxPesBytes} bytes`);
      return;
    }
    state.parts.push(Buffer.from(payload)); // the packet buffer may be reused by the caller
    state.bytes += payload.length;
    if (state.expected > 0 && state.bytes >= state.expected) this.finishPes(state);
  }

  private pesError(state: PesState, what: string): void {
    this.stats.pesErrors++;
    this.problem('RC_TS_PES_INVALID', `MPEG-TS: PES on PID ${state.es.pid} (${state.es.codec}): ${what}`);
  }

  private dropPes(state: PesState, why: string): void {
    state.parts = [];
    state.bytes = 0;
    this.pesError(state, `dropped, ${why}`);
  }

  private finishPes(state: PesState): void {
    if (state.bytes === 0) return;
    const pes = state.parts.length === 1 ? state.parts[0]! : Buffer.concat(state.parts, state.bytes);
    state.parts = [];
    state.bytes = 0;
    if (pes.length < 9) {
      this.pesError(state, 'header truncated');
      return;
    }
    const end = state.expected > 0 ? state.expected : pes.length;
    if (end > pes.length) {
      this.pesError(state, 'shorter than its PES_packet_length');
      return;
    }
    const flags = pes[7]!;
    const headerLength = pes[8]!;
    const ptsDts = flags >> 6;
    if (9 + headerLength > end) {
      this.pesError(state, 'PES_header_data_length beyond the packet');
      return;
    }
    if (!(ptsDts & 2) || headerLength < (ptsDts === 3 ? 10 : 5)) {
      this.pesError(state, 'no PTS (every PES we use must carry one)');
      return;
    }
    const pts = readTimestamp(pes, 9);
    const dts = ptsDts === 3 && headerLength >= 10 ? readTimestamp(pes, 14) : pts;
    const payload = pes.subarray(9 + headerLength, end);
    const dtsMs = this.timeline(dts);
    const cts90k = (pts - dts + WRAP_33) % WRAP_33;
    const ctsMs = cts90k >= HALF_WRAP ? 0 : Math.round(cts90k / 90); // PTS before DTS is invalid: 0
    try {
      if (state.video) {
        const ms = Math.max(dtsMs, this.lastVideoMs);
        for (const tag of state.video.convert(payload, ms, ctsMs)) this.out.push(tag);
        this.lastVideoMs = ms;
      } else if (state.audio) {
        const ms = Math.max(dtsMs, this.lastAudioMs);
        let last = ms;
        for (const tag of state.audio.convert(payload, ms)) {
          last = tag.timestamp;
          this.out.push(tag);
        }
        this.lastAudioMs = last;
      }
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      this.stats.pesErrors++;
      this.problem(err.code, `MPEG-TS: PES on PID ${state.es.pid} (${state.es.codec}): ${err.message}`);
    }
  }

  /** 33-bit 90 kHz DTS → output milliseconds on a timeline that never goes backwards. */
  private timeline(raw: number): number {
    let ext: number;
    if (this.lastExt === undefined) {
      ext = raw;
      this.offset90k = -raw;
    } else {
      let delta = (raw - (this.lastExt % WRAP_33) + WRAP_33) % WRAP_33;
      if (delta >= HALF_WRAP) delta -= WRAP_33;
      ext = this.lastExt + delta;
      if (this.discontinuityPending || delta > this.jumpTolerance90k || -delta > this.backwardTolerance90k) {
        this.stats.discontinuities++;
        if (!this.discontinuityPending)
          this.problem(
            'RC_TS_TIMESTAMP_JUMP',
            `MPEG-TS: timestamps jumped by ${Math.round(delta / 90)} ms; the timeline continues from where it was`,
          );
        this.discontinuityPending = false;
        // continue one frame-ish (20 ms) after the latest output
        this.offset90k = (this.lastOutMs + 20) * 90 - ext;
      }
    }
    this.lastExt = ext;
    const ms = Math.max(0, Math.round((ext + this.offset90k) / 90));
    if (ms > this.lastOutMs) this.lastOutMs = ms;
    return ms;
  }
}

/** 2.4.3.7: PTS/DTS, 33 bits spread over 5 bytes with marker bits. */
function readTimestamp(b: Buffer, o: number): number {
  return (
    ((b[o]! >> 1) & 0x07) * 2 ** 30 + (b.readUInt16BE(o + 1) >> 1) * 2 ** 15 + (b.readUInt16BE(o + 3) >> 1)
  );
}
