/**
 * MPEG-2 transport stream muxer (ISO/IEC 13818-1) for HLS segments: PAT/PMT, PES with PTS/DTS,
 * PCR, continuity counters that continue across segments, adaptation-field stuffing.
 */
export const TS_PACKET_BYTES = 188;
const PAT_PID = 0;

export interface TsMuxerOptions {
  videoPid?: number;
  audioPid?: number;
  pmtPid?: number;
}

export type TsTrack = { video?: 'h264' | 'hevc'; audio?: 'aac' | 'mp3' };

// 2.4.4.9 Table 2-34: stream_type
const STREAM_TYPE = { h264: 0x1b, hevc: 0x24, aac: 0x0f, mp3: 0x03 } as const;

/** Timestamps are shifted by this much so PCR (a little behind DTS) never goes below zero. */
const TS_OFFSET_MS = 1000;
const PCR_LEAD_MS = 100;
const WRAP_33 = 2 ** 33;

let crcTable: Uint32Array | undefined;
/** CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor), Annex A. */
export function crc32Mpeg2(buf: Buffer, start = 0, end = buf.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i << 24;
      for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

function to90k(ms: number): number {
  return ((Math.round((ms + TS_OFFSET_MS) * 90) % WRAP_33) + WRAP_33) % WRAP_33;
}

/** 2.4.3.7: PTS/DTS 5-byte field with a 4-bit prefix. */
function writeTimestamp(buf: Buffer, off: number, prefix: number, ts: number): void {
  const hi = Math.floor(ts / 2 ** 30) & 0x07;
  const mid = Math.floor(ts / 2 ** 15) & 0x7fff;
  const lo = ts & 0x7fff;
  buf[off] = (prefix << 4) | (hi << 1) | 1;
  buf.writeUInt16BE((mid << 1) | 1, off + 1);
  buf.writeUInt16BE((lo << 1) | 1, off + 3);
}

/** 2.4.3.5: program_clock_reference_base (33) + reserved (6) + extension (9). */
function writePcr(buf: Buffer, off: number, base: number): void {
  buf[off] = Math.floor(base / 2 ** 25) & 0xff;
  buf[off + 1] = Math.floor(base / 2 ** 17) & 0xff;
  buf[off + 2] = Math.floor(base / 2 ** 9) & 0xff;
  buf[off + 3] = Math.floor(base / 2) & 0xff;
  buf[off + 4] = ((base & 1) << 7) | 0x7e;
  buf[off + 5] = 0;
}

export class TsMuxer {
  readonly videoPid: number;
  readonly audioPid: number;
  readonly pmtPid: number;
  private tracks: TsTrack = {};
  private readonly cc = new Map<number, number>();
  private packets: Buffer[] = [];

  constructor(options?: TsMuxerOptions) {
    this.videoPid = options?.videoPid ?? 0x100;
    this.audioPid = options?.audioPid ?? 0x101;
    this.pmtPid = options?.pmtPid ?? 0x1000;
  }

  setTracks(tracks: TsTrack): void {
    this.tracks = { ...tracks };
  }

  get pcrPid(): number {
    return this.tracks.video ? this.videoPid : this.audioPid;
  }

  private nextCc(pid: number): number {
    const c = this.cc.get(pid) ?? 15;
    const n = (c + 1) & 0x0f;
    this.cc.set(pid, n);
    return n;
  }

  /** One PSI section in one packet (pointer_field 0), stuffed with 0xFF. */
  private writeSection(pid: number, section: Buffer): void {
    const p = Buffer.alloc(TS_PACKET_BYTES, 0xff);
    p[0] = 0x47;
    p[1] = 0x40 | ((pid >> 8) & 0x1f); // payload_unit_start_indicator
    p[2] = pid & 0xff;
    p[3] = 0x10 | this.nextCc(pid); // payload only
    p[4] = 0; // pointer_field
    section.copy(p, 5);
    this.packets.push(p);
  }

  private section(tableId: number, idExt: number, body: Buffer): Buffer {
    // 2.4.4.3/2.4.4.8: table_id, section_syntax_indicator=1, section_length, id, version 0,
    // current_next 1, section_number 0, last_section_number 0, body, CRC_32
    const len = 5 + body.length + 4;
    const s = Buffer.alloc(3 + len);
    s[0] = tableId;
    s.writeUInt16BE(0xb000 | len, 1);
    s.writeUInt16BE(idExt, 3);
    s[5] = 0xc1;
    s[6] = 0;
    s[7] = 0;
    body.copy(s, 8);
    s.writeUInt32BE(crc32Mpeg2(s, 0, s.length - 4), s.length - 4);
    return s;
  }

  writeTables(): void {
    const pat = Buffer.alloc(4);
    pat.writeUInt16BE(1, 0); // program_number 1
    pat.writeUInt16BE(0xe000 | this.pmtPid, 2);
    this.writeSection(PAT_PID, this.section(0x00, 1, pat));
    const streams: Buffer[] = [];
    const es = (type: number, pid: number) => {
      const b = Buffer.alloc(5);
      b[0] = type;
      b.writeUInt16BE(0xe000 | pid, 1);
      b.writeUInt16BE(0xf000, 3); // ES_info_length 0
      streams.push(b);
    };
    if (this.tracks.video) es(STREAM_TYPE[this.tracks.video], this.videoPid);
    if (this.tracks.audio) es(STREAM_TYPE[this.tracks.audio], this.audioPid);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(0xe000 | this.pcrPid, 0);
    head.writeUInt16BE(0xf000, 2); // program_info_length 0
    this.writeSection(this.pmtPid, this.section(0x02, 1, Buffer.concat([head, ...streams])));
  }

  writeVideo(annexB: Buffer, ptsMs: number, dtsMs: number, isKey: boolean): void {
    const pts = to90k(ptsMs);
    const dts = to90k(dtsMs);
    const pcr = this.pcrPid === this.videoPid ? to90k(dtsMs - PCR_LEAD_MS) : undefined;
    this.writePes(this.videoPid, 0xe0, annexB, pts, pts === dts ? undefined : dts, pcr, isKey, true);
  }

  writeAudio(frame: Buffer, ptsMs: number): void {
    const pts = to90k(ptsMs);
    const pcr = this.pcrPid === this.audioPid ? to90k(ptsMs - PCR_LEAD_MS) : undefined;
    this.writePes(this.audioPid, 0xc0, frame, pts, undefined, pcr, false, false);
  }

  private writePes(
    pid: number,
    streamId: number,
    payload: Buffer,
    pts: number,
    dts: number | undefined,
    pcr: number | undefined,
    randomAccess: boolean,
    unbounded: boolean,
  ): void {
    // 2.4.3.6 PES header
    const headerDataLength = dts === undefined ? 5 : 10;
    const pesHeader = Buffer.alloc(9 + headerDataLength);
    pesHeader.writeUIntBE(0x000001, 0, 3);
    pesHeader[3] = streamId;
    const pesLength = 3 + headerDataLength + payload.length;
    pesHeader.writeUInt16BE(unbounded || pesLength > 0xffff ? 0 : pesLength, 4);
    pesHeader[6] = 0x80; // '10', no scrambling, no priority/alignment flags
    pesHeader[7] = dts === undefined ? 0x80 : 0xc0;
    pesHeader[8] = headerDataLength;
    writeTimestamp(pesHeader, 9, dts === undefined ? 0x2 : 0x3, pts);
    if (dts !== undefined) writeTimestamp(pesHeader, 14, 0x1, dts);
    const total = pesHeader.length + payload.length;
    let written = 0;
    let first = true;
    const read = (dst: Buffer, off: number, n: number) => {
      // copy n bytes of [pesHeader, payload] starting at `written`
      let left = n;
      while (left > 0) {
        if (written < pesHeader.length) {
          const k = Math.min(left, pesHeader.length - written);
          pesHeader.copy(dst, off, written, written + k);
          off += k;
          written += k;
          left -= k;
        } else {
          const start = written - pesHeader.length;
          payload.copy(dst, off, start, start + left);
          written += left;
          off += left;
          left = 0;
        }
      }
    };
    while (written < total) {
      const p = Buffer.allocUnsafe(TS_PACKET_BYTES);
      p[0] = 0x47;
      p[1] = (first ? 0x40 : 0) | ((pid >> 8) & 0x1f);
      p[2] = pid & 0xff;
      // adaptation field: PCR and random_access_indicator on the first packet, stuffing on the last
      const wantPcr = first && pcr !== undefined;
      const wantRai = first && randomAccess;
      let afLen = wantPcr ? 8 : wantRai ? 2 : 0; // bytes incl. adaptation_field_length byte
      const room = TS_PACKET_BYTES - 4 - afLen;
      const remaining = total - written;
      if (remaining < room) afLen += room - remaining; // stuff so the payload fills the packet
      if (afLen === 1 && !wantPcr && !wantRai) {
        // a one-byte adaptation field is just adaptation_field_length = 0
      }
      p[3] = (afLen > 0 ? 0x30 : 0x10) | this.nextCc(pid);
      let off = 4;
      if (afLen > 0) {
        p[off] = afLen - 1; // adaptation_field_length
        if (afLen > 1) {
          p[off + 1] = (wantRai ? 0x40 : 0) | (wantPcr ? 0x10 : 0);
          let o = off + 2;
          if (wantPcr) {
            writePcr(p, o, pcr!);
            o += 6;
          }
          p.fill(0xff, o, off + afLen);
        }
        off += afLen;
      }
      read(p, off, TS_PACKET_BYTES - off);
      this.packets.push(p);
      first = false;
    }
  }

  flush(): Buffer {
    const out = Buffer.concat(this.packets);
    this.packets = [];
    return out;
  }
}
