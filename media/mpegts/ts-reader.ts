/**
 * A small, deliberately independent MPEG-TS reader for tests and debugging (it shares no code with
 * the muxer): packets, continuity counters, PSI sections checked with a bitwise CRC-32/MPEG-2,
 * PES reassembly with PTS/DTS, PCRs and random-access flags. Problems are collected, not thrown.
 */

/** Bitwise (table-less) CRC-32/MPEG-2. */
export function crc32Mpeg2Bitwise(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc = (crc ^ (b << 24)) >>> 0;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

export interface TsPes {
  pid: number;
  streamId: number;
  pts: number | undefined;
  dts: number | undefined;
  /** PES_packet_length as written (0 = unbounded). */
  declaredLength: number;
  /** Bytes after PES_packet_length actually received. */
  actualLength: number;
  dataAlignment: boolean;
  payload: Buffer;
  /** random_access_indicator on the PES's first packet. */
  randomAccess: boolean;
  /** Index of the buffer (segment) the PES started in. */
  segment: number;
}

export interface TsPcr {
  pid: number;
  base: number;
  /** Packet index within its segment. */
  packet: number;
  segment: number;
  /** The packet carries no payload (adaptation field only). */
  pcrOnly: boolean;
}

export interface TsPmtStream {
  streamType: number;
  pid: number;
}

export interface TsPsi {
  pid: number;
  tableId: number;
  segment: number;
  packet: number;
  crcOk: boolean;
  version: number;
  /** PAT: program_number → PMT PID. */
  programs?: Map<number, number>;
  /** PMT */
  pcrPid?: number;
  streams?: TsPmtStream[];
}

export interface TsReadResult {
  packets: number;
  problems: string[];
  pes: TsPes[];
  pcrs: TsPcr[];
  psi: TsPsi[];
  /** Per segment: the PIDs in order of their first packet. */
  firstPids: number[][];
}

function readTs(b: Buffer, o: number): number {
  return (
    ((b[o]! >> 1) & 0x07) * 2 ** 30 + (b.readUInt16BE(o + 1) >> 1) * 2 ** 15 + (b.readUInt16BE(o + 3) >> 1)
  );
}

/** Reads consecutive segments as one stream (continuity counters carry over between them). */
export function readTransportStream(segments: readonly Buffer[], psiPids = [0]): TsReadResult {
  const result: TsReadResult = { packets: 0, problems: [], pes: [], pcrs: [], psi: [], firstPids: [] };
  const cc = new Map<number, number>();
  const open = new Map<number, { parts: Buffer[]; segment: number; randomAccess: boolean }>();
  const psiSet = new Set(psiPids);
  const problem = (s: string) => {
    if (result.problems.length < 50) result.problems.push(s);
  };

  const finish = (pid: number) => {
    const o = open.get(pid);
    open.delete(pid);
    if (!o) return;
    const all = Buffer.concat(o.parts);
    if (all.length < 9 || all.readUIntBE(0, 3) !== 1) {
      problem(`PID ${pid}: PES without start code`);
      return;
    }
    const flags = all[7]!;
    const hdrLen = all[8]!;
    const ptsDts = flags >> 6;
    const pts = ptsDts & 2 ? readTs(all, 9) : undefined;
    const dts = ptsDts === 3 ? readTs(all, 14) : pts;
    if (ptsDts === 2 && all[9]! >> 4 !== 2) problem(`PID ${pid}: PTS prefix ${all[9]! >> 4}`);
    if (ptsDts === 3 && (all[9]! >> 4 !== 3 || all[14]! >> 4 !== 1)) problem(`PID ${pid}: PTS/DTS prefixes`);
    const declaredLength = all.readUInt16BE(4);
    const actualLength = all.length - 6;
    if (declaredLength !== 0 && declaredLength !== actualLength)
      problem(`PID ${pid}: PES_packet_length ${declaredLength} but ${actualLength} bytes`);
    result.pes.push({
      pid,
      streamId: all[3]!,
      pts,
      dts,
      declaredLength,
      actualLength,
      dataAlignment: !!(all[6]! & 0x04),
      payload: all.subarray(9 + hdrLen),
      randomAccess: o.randomAccess,
      segment: o.segment,
    });
  };

  segments.forEach((seg, segIndex) => {
    const firstPids: number[] = [];
    result.firstPids.push(firstPids);
    if (seg.length % 188 !== 0) problem(`segment ${segIndex}: ${seg.length} bytes is not a multiple of 188`);
    for (let i = 0; i + 188 <= seg.length; i += 188) {
      const p = seg.subarray(i, i + 188);
      const packet = i / 188;
      result.packets++;
      if (p[0] !== 0x47) {
        problem(`segment ${segIndex} packet ${packet}: sync byte ${p[0]}`);
        continue;
      }
      const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
      if (!firstPids.includes(pid)) firstPids.push(pid);
      const pusi = !!(p[1]! & 0x40);
      const afc = (p[3]! >> 4) & 3;
      const counter = p[3]! & 0x0f;
      if (afc === 0) problem(`PID ${pid}: adaptation_field_control 0`);
      const prev = cc.get(pid);
      const expected = prev === undefined ? counter : afc & 1 ? (prev + 1) & 0x0f : prev;
      if (counter !== expected)
        problem(`segment ${segIndex} packet ${packet} PID ${pid}: CC ${counter}, expected ${expected}`);
      cc.set(pid, counter);
      let payloadStart = 4;
      let randomAccess = false;
      if (afc & 2) {
        const len = p[4]!;
        if (afc === 2 && len !== 183) problem(`PID ${pid}: adaptation-only packet with length ${len}`);
        if (afc === 3 && len > 182) problem(`PID ${pid}: adaptation field of ${len} bytes`);
        if (len > 0) {
          const f = p[5]!;
          randomAccess = !!(f & 0x40);
          if (f & 0x10) {
            const base = p[6]! * 2 ** 25 + p[7]! * 2 ** 17 + p[8]! * 2 ** 9 + p[9]! * 2 + (p[10]! >> 7);
            result.pcrs.push({ pid, base, packet, segment: segIndex, pcrOnly: afc === 2 });
          }
          // everything after flags (and PCR) must be 0xFF stuffing
          for (let k = 6 + (f & 0x10 ? 6 : 0); k < 5 + len; k++)
            if (p[k] !== 0xff) {
              problem(`PID ${pid}: stuffing byte ${p[k]} at ${k}`);
              break;
            }
        }
        payloadStart = 5 + len;
      }
      if (!(afc & 1)) continue;
      const payload = p.subarray(payloadStart);
      if (psiSet.has(pid)) {
        if (!pusi) {
          problem(`PSI PID ${pid}: section continuation not supported by this reader`);
          continue;
        }
        const section = payload.subarray(1 + payload[0]!);
        const sectionLength = section.readUInt16BE(1) & 0x0fff;
        const body = section.subarray(0, 3 + sectionLength);
        const crcOk =
          crc32Mpeg2Bitwise(body.subarray(0, body.length - 4)) === body.readUInt32BE(body.length - 4);
        if (!crcOk) problem(`PSI PID ${pid}: CRC mismatch`);
        for (let k = 3 + sectionLength; k < section.length; k++)
          if (section[k] !== 0xff) {
            problem(`PSI PID ${pid}: stuffing after the section`);
            break;
          }
        const entry: TsPsi = {
          pid,
          tableId: section[0]!,
          segment: segIndex,
          packet,
          crcOk,
          version: (section[5]! >> 1) & 0x1f,
        };
        if (entry.tableId === 0) {
          entry.programs = new Map();
          for (let k = 8; k + 4 <= body.length - 4; k += 4) {
            const pmtPid = body.readUInt16BE(k + 2) & 0x1fff;
            entry.programs.set(body.readUInt16BE(k), pmtPid);
            psiSet.add(pmtPid);
          }
        } else if (entry.tableId === 2) {
          entry.pcrPid = body.readUInt16BE(8) & 0x1fff;
          const infoLen = body.readUInt16BE(10) & 0x0fff;
          entry.streams = [];
          for (let k = 12 + infoLen; k + 5 <= body.length - 4; ) {
            entry.streams.push({ streamType: body[k]!, pid: body.readUInt16BE(k + 1) & 0x1fff });
            k += 5 + (body.readUInt16BE(k + 3) & 0x0fff);
          }
        }
        result.psi.push(entry);
        continue;
      }
      if (pusi) {
        finish(pid);
        open.set(pid, { parts: [payload], segment: segIndex, randomAccess });
      } else {
        const o = open.get(pid);
        if (o) o.parts.push(payload);
        else problem(`segment ${segIndex} PID ${pid}: payload before any PES start`);
      }
    }
  });
  for (const pid of [...open.keys()]) finish(pid);
  return result;
}

/** NAL unit types of an Annex B buffer, in order (H.264: 5 bits; HEVC: pass hevc = true). */
export function annexBNalTypes(buf: Buffer, hevc = false): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const h = buf[i + 3]!;
      types.push(hevc ? (h >> 1) & 0x3f : h & 0x1f);
      i += 3;
    }
  }
  return types;
}
