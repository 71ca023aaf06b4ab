/**
 * Minimal FLV tag scanner for load clients: finds tag boundaries, types, timestamps and keyframe
 * flags without copying bodies (a swarm of thousands must stay cheap on the client side).
 */
export interface ScannedTag {
  type: number;
  timestamp: number;
  /** A video frame with FrameType 1 (not a sequence header). */
  keyframe: boolean;
  /** A video configuration record (AVC/HEVC sequence header). */
  config: boolean;
}

export class FlvScanner {
  private headerLeft = 13; // FLV header + PreviousTagSize0
  private readonly head = Buffer.alloc(13); // 11-byte tag header + first 2 body bytes
  private headLen = 0;
  private headNeed = 11;
  private bodyLeft = 0; // rest of the body + PreviousTagSize still to skip

  push(chunk: Buffer, onTag: (t: ScannedTag) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.headerLeft > 0) {
        const n = Math.min(this.headerLeft, chunk.length - pos);
        this.headerLeft -= n;
        pos += n;
        continue;
      }
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - pos);
        this.bodyLeft -= n;
        pos += n;
        continue;
      }
      while (this.headLen < this.headNeed && pos < chunk.length) this.head[this.headLen++] = chunk[pos++]!;
      if (this.headLen < this.headNeed) return;
      const h = this.head;
      const size = h.readUIntBE(1, 3);
      if (this.headNeed === 11) {
        this.headNeed = 11 + Math.min(size, 2);
        if (this.headLen < this.headNeed) continue;
      }
      const type = h[0]! & 0x1f;
      const timestamp = (h.readUIntBE(4, 3) | (h[7]! << 24)) >>> 0;
      const video = type === 9 && size >= 2;
      const frameType = video ? (h[11]! >> 4) & 7 : 0;
      const legacyConfig = video && !(h[11]! & 0x80) && h[12] === 0;
      const exConfig = video && !!(h[11]! & 0x80) && (h[11]! & 0x0f) === 0;
      const config = legacyConfig || exConfig;
      onTag({ type, timestamp, keyframe: video && frameType === 1 && !config, config });
      this.bodyLeft = size - (this.headNeed - 11) + 4;
      this.headLen = 0;
      this.headNeed = 11;
    }
  }
}
