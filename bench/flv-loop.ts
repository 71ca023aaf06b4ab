/**
 * An FLV file read once for publishing it in real time, looped (bench/publish-swarm.ts,
 * bench/edge-hop.ts): the headers at its start (metadata and sequence headers, sent once), the
 * frames that repeat, and how long one loop lasts.
 */
import { readFileSync } from 'node:fs';
import { FlvDemuxer } from '../media/flv/demuxer.ts';
import {
  isAudioSequenceHeader,
  isVideoSequenceHeader,
  type MediaTag,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from '../media/tag.ts';

export interface FlvLoop {
  headers: MediaTag[];
  frames: MediaTag[];
  /** Timestamp of the first frame: a loop's media time is frame.timestamp - firstTs. */
  firstTs: number;
  /** One loop: the frames' media span plus one video frame interval. */
  loopMs: number;
}

export function readFlvLoop(file: string): FlvLoop {
  const headers: MediaTag[] = [];
  const frames: MediaTag[] = [];
  for (const t of new FlvDemuxer().push(readFileSync(file))) {
    const header =
      t.type === TAG_SCRIPT ||
      (t.type === TAG_VIDEO && isVideoSequenceHeader(t.data)) ||
      (t.type === TAG_AUDIO && isAudioSequenceHeader(t.data));
    if (header && frames.length === 0) headers.push(t);
    else if (!header) frames.push(t);
  }
  if (!frames.length) throw new Error(`${file}: no audio/video frames`);
  const firstTs = frames[0]!.timestamp;
  const lastTs = frames.reduce((a, t) => Math.max(a, t.timestamp), 0);
  const videoTs = frames.filter((t) => t.type === TAG_VIDEO).map((t) => t.timestamp);
  const frameInterval = videoTs.length > 1 ? (videoTs.at(-1)! - videoTs[0]!) / (videoTs.length - 1) : 33;
  return { headers, frames, firstTs, loopMs: Math.round(lastTs - firstTs + frameInterval) };
}
