/**
 * RTP carrying MPEG-TS (RFC 2250 2: payload type 33, the payload is whole 188-byte TS packets) as
 * sent by `ffmpeg -f rtp_mpegts` and IPTV head-ends. Header per RFC 3550 5.1. The reorderer puts
 * packets back in sequence-number order within a small window and counts what never came.
 * Pure: bytes in, payloads out; problems are counted, never thrown.
 */

export const RTP_PT_MP2T = 33;

export interface RtpPacket {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** RFC 3550 5.1 fixed header (12 bytes), CSRC list, header extension (5.3.1), padding. */
export function parseRtp(b: Buffer): RtpPacket | undefined {
  if (b.length < 12 || b[0]! >> 6 !== 2) return undefined; // V = 2
  const padding = (b[0]! & 0x20) !== 0;
  const extension = (b[0]! & 0x10) !== 0;
  const csrcCount = b[0]! & 0x0f;
  let pos = 12 + 4 * csrcCount;
  if (extension) {
    if (b.length < pos + 4) return undefined;
    pos += 4 + 4 * b.readUInt16BE(pos + 2);
  }
  let end = b.length;
  if (padding) end -= b[b.length - 1]!;
  if (pos > end) return undefined;
  return {
    payloadType: b[1]! & 0x7f,
    sequenceNumber: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(pos, end),
  };
}

export interface RtpStats {
  packets: number;
  /** Not RTP version 2, or too short for its own header. */
  malformed: number;
  /** Payload type other than 33 (MP2T). */
  wrongPayloadType: number;
  /** Sequence numbers skipped for good. */
  lost: number;
  /** Arrived after the window moved past them, or twice. */
  late: number;
  /** Arrived out of order but within the window, and were put back in place. */
  reordered: number;
  /** The sender restarted (new SSRC or a sequence jump far beyond the window). */
  resets: number;
}

const SEQ_MOD = 0x10000;

/** Sequence-number reordering within `window` packets (default 32). */
export class RtpReorderer {
  readonly stats: RtpStats = {
    packets: 0,
    malformed: 0,
    wrongPayloadType: 0,
    lost: 0,
    late: 0,
    reordered: 0,
    resets: 0,
  };
  private readonly window: number;
  private expected: number | undefined;
  private ssrc: number | undefined;
  private readonly held = new Map<number, Buffer>();

  constructor(window = 32) {
    this.window = window;
  }

  /** One datagram in; the MPEG-TS payloads now in order out. */
  push(datagram: Buffer): Buffer[] {
    const rtp = parseRtp(datagram);
    if (!rtp) {
      this.stats.malformed++;
      return [];
    }
    if (rtp.payloadType !== RTP_PT_MP2T) {
      this.stats.wrongPayloadType++;
      return [];
    }
    this.stats.packets++;
    const seq = rtp.sequenceNumber;
    if (this.expected === undefined || rtp.ssrc !== this.ssrc) {
      if (this.expected !== undefined) this.stats.resets++;
      this.reset(rtp.ssrc, seq);
    }
    const ahead = (seq - this.expected! + SEQ_MOD) % SEQ_MOD; // 0 = the one we wait for
    if (ahead >= SEQ_MOD / 2) {
      // behind: a late or duplicate packet, unless it is so far behind that the sender restarted
      if (SEQ_MOD - ahead <= this.window * 4) {
        this.stats.late++;
        return [];
      }
      this.stats.resets++;
      this.reset(rtp.ssrc, seq);
    } else if (ahead > this.window * 4) {
      this.stats.resets++;
      this.reset(rtp.ssrc, seq);
    }
    const out: Buffer[] = [];
    if (seq !== this.expected) {
      if (this.held.has(seq)) {
        this.stats.late++;
        return [];
      }
      this.held.set(seq, Buffer.from(rtp.payload)); // the datagram buffer is not ours to keep
      if (this.held.size <= this.window) return out;
      // the window is full: give up on what is missing before the oldest held packet
      let next = this.expected!;
      while (!this.held.has(next)) {
        next = (next + 1) % SEQ_MOD;
        this.stats.lost++;
      }
      this.expected = next;
    } else {
      out.push(rtp.payload);
      this.expected = (seq + 1) % SEQ_MOD;
    }
    for (let p = this.held.get(this.expected!); p; p = this.held.get(this.expected!)) {
      this.held.delete(this.expected!);
      this.stats.reordered++;
      out.push(p);
      this.expected = (this.expected! + 1) % SEQ_MOD;
    }
    return out;
  }

  private reset(ssrc: number, seq: number): void {
    this.ssrc = ssrc;
    this.expected = seq;
    this.held.clear();
  }
}
