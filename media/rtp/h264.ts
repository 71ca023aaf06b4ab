/**
 * H.264 RTP payloads (RFC 6184), packetization-mode 1 (non-interleaved): one RTP payload per
 * small NAL unit (5.6), STAP-A aggregation for the parameter sets (5.7.1), FU-A fragmentation for
 * NAL units larger than the payload budget (5.8). FLV carries AVCC access units (4-byte length
 * prefixes, ISO/IEC 14496-15) with SPS/PPS only in the decoder configuration record, so the
 * packetiser re-sends SPS+PPS in a STAP-A before every IDR: a receiver that joins, or loses the
 * start, can decode from any keyframe. Pure: bytes in, payloads out.
 */
import { NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, nalType, parseAvcDecoderConfig } from '../codec/avc.ts';
import { MediaError } from '../errors.ts';

/** RFC 6184 8.2.1: the RTP timestamp of H.264 uses a 90 kHz clock. */
export const H264_CLOCK_HZ = 90_000;
/** Payload budget that fits a 1280-byte UDP MTU after RTP, header extensions, SRTP tag and TURN. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1100;

/** RFC 6184 5.4 NAL unit types used for aggregation and fragmentation. */
export const NAL_STAP_A = 24;
export const NAL_FU_A = 28;
/** Filler data (H.264 7.4.1.2.4): padding, never worth sending. */
const NAL_FILLER = 12;

export interface RtpPayload {
  payload: Buffer;
  /** RFC 6184 5.1: set on the last packet of an access unit. */
  marker: boolean;
}

/** RFC 6184 5.7.1: STAP-A of whole NAL units (header F|NRI|24, then 16-bit size + NALU each). */
export function stapA(nalus: readonly Buffer[]): Buffer {
  let size = 1;
  let f = 0;
  let nri = 0;
  for (const n of nalus) {
    if (n.length === 0 || n.length > 0xffff)
      throw new MediaError('RC_CODEC_INVALID', `H.264: NAL unit of ${n.length} bytes cannot be aggregated`);
    size += 2 + n.length;
    f |= n[0]! & 0x80; // F: any aggregated unit with F set sets it (5.3)
    nri = Math.max(nri, n[0]! & 0x60); // NRI: the highest of the aggregated units (5.7)
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = f | nri | NAL_STAP_A;
  let off = 1;
  for (const n of nalus) {
    out.writeUInt16BE(n.length, off);
    off += 2 + n.copy(out, off + 2);
  }
  return out;
}

/**
 * RFC 6184 5.8: FU-A fragments of one NAL unit. FU indicator = F|NRI of the unit | 28; FU header
 * = S|E|R(0)|type; the unit's own header byte is not repeated, only its payload is split.
 */
export function fuA(nal: Buffer, maxPayloadBytes: number): Buffer[] {
  if (maxPayloadBytes < 3) throw new MediaError('RC_CODEC_INVALID', 'H.264: payload budget below 3 bytes');
  const indicator = (nal[0]! & 0xe0) | NAL_FU_A;
  const type = nal[0]! & 0x1f;
  const chunk = maxPayloadBytes - 2;
  const out: Buffer[] = [];
  for (let pos = 1; pos < nal.length; pos += chunk) {
    const end = Math.min(pos + chunk, nal.length);
    const frag = Buffer.allocUnsafe(2 + end - pos);
    frag[0] = indicator;
    frag[1] = (pos === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
    nal.copy(frag, 2, pos, end);
    out.push(frag);
  }
  return out;
}

/**
 * Payloads for one access unit: each NAL unit as a single-NAL packet when it fits, otherwise as
 * FU-A fragments; the marker is on the last payload.
 */
export function packetizeAccessUnit(nalus: readonly Buffer[], maxPayloadBytes: number): RtpPayload[] {
  const out: RtpPayload[] = [];
  for (const nal of nalus) {
    if (nal.length === 0) continue;
    if (nal.length <= maxPayloadBytes) out.push({ payload: nal, marker: false });
    else for (const frag of fuA(nal, maxPayloadBytes)) out.push({ payload: frag, marker: false });
  }
  const last = out[out.length - 1];
  if (last) last.marker = true;
  return out;
}

/**
 * Turns FLV AVC frames into RTP payloads. `setConfig` takes the AVCDecoderConfigurationRecord
 * (the body of the sequence header after its 5-byte FLV video header).
 */
export class H264Packetizer {
  readonly maxPayloadBytes: number;
  private nalLengthSize = 4;
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;
  /** profile_idc, constraint flags and level_idc of the SPS (RFC 6184 8.1 profile-level-id). */
  profileLevelId: string | undefined;

  constructor(maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  get configured(): boolean {
    return this.sps !== undefined && this.pps !== undefined;
  }

  setConfig(record: Buffer): void {
    const config = parseAvcDecoderConfig(record);
    const sps = config.sps[0];
    const pps = config.pps[0];
    if (!sps || !pps || sps.length < 4)
      throw new MediaError('RC_CODEC_INVALID', 'AVC: configuration record without SPS or PPS');
    this.nalLengthSize = config.nalLengthSize;
    this.sps = sps;
    this.pps = pps;
    this.profileLevelId = sps.subarray(1, 4).toString('hex');
  }

  /**
   * Payloads for one AVCC access unit starting at `offset` in `data`. Before an IDR the SPS and
   * PPS go first in a STAP-A (unless the frame carries them itself). AUD and filler units are
   * dropped: RFC 6184 receivers need neither. Empty when the frame holds no picture data.
   */
  packetize(data: Buffer, offset: number): RtpPayload[] {
    if (!this.sps || !this.pps)
      throw new MediaError('RC_CODEC_INVALID', 'H.264: frame before the decoder configuration record');
    const nalus: Buffer[] = [];
    let hasIdr = false;
    let hasParameterSets = false;
    let pos = offset;
    while (pos < data.length) {
      if (pos + this.nalLengthSize > data.length)
        throw new MediaError('RC_CODEC_TRUNCATED', 'H.264: NAL length prefix truncated');
      const len = data.readUIntBE(pos, this.nalLengthSize);
      pos += this.nalLengthSize;
      if (pos + len > data.length)
        throw new MediaError('RC_CODEC_TRUNCATED', `H.264: NAL unit of ${len} bytes overruns the frame`);
      const nal = data.subarray(pos, pos + len);
      pos += len;
      const type = nalType(nal);
      if (len === 0 || type === NAL_AUD || type === NAL_FILLER) continue;
      if (type === NAL_IDR) hasIdr = true;
      if (type === NAL_SPS || type === NAL_PPS) hasParameterSets = true;
      nalus.push(nal);
    }
    if (nalus.length === 0) return [];
    const out: RtpPayload[] = [];
    if (hasIdr && !hasParameterSets) {
      const agg = stapA([this.sps, this.pps]);
      if (agg.length <= this.maxPayloadBytes) out.push({ payload: agg, marker: false });
      else nalus.unshift(this.sps, this.pps);
    }
    out.push(...packetizeAccessUnit(nalus, this.maxPayloadBytes));
    return out;
  }
}

/** RFC 3550 5.1: RTP timestamps are 32-bit and wrap; milliseconds on the stream timeline → 90 kHz. */
export function rtpTimestamp90k(ms: number): number {
  return Math.round(ms * 90) >>> 0; // ToUint32 is modulo 2^32
}
