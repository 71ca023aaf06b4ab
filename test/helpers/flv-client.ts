/** Reads an HTTP-FLV stream into tags (for tests and bench). */

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { FlvDemuxer } from '../../media/flv/demuxer.ts';
import type { MediaTag } from '../../media/tag.ts';

export interface FlvRead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  tags: MediaTag[];
  bytes: number;
  /** Resolves when the response ends (or the reader was closed). */
  done: Promise<void>;
  close(): void;
}

/** Opens url and collects tags until close() or the response ends. */
export function openFlv(url: string, onTag?: (tag: MediaTag, read: FlvRead) => void): Promise<FlvRead> {
  return new Promise((resolve, reject) => {
    const demux = new FlvDemuxer();
    const req = request(url, (res) => {
      let finish!: () => void;
      const read: FlvRead = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        tags: [],
        bytes: 0,
        done: new Promise<void>((r) => {
          finish = r;
        }),
        close: () => {
          req.destroy();
          finish();
        },
      };
      res.on('data', (chunk: Buffer) => {
        if (read.status !== 200) return;
        read.bytes += chunk.length;
        for (const tag of demux.push(chunk)) {
          read.tags.push(tag);
          onTag?.(tag, read);
        }
      });
      res.on('end', () => finish());
      res.on('error', () => finish());
      res.on('close', () => finish());
      resolve(read);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asserts timestamps of one tag type never go backwards. */
export function assertMonotonic(tags: MediaTag[], type: number, label: string): void {
  let last = -1;
  for (const t of tags) {
    if (t.type !== type) continue;
    assert.ok(t.timestamp >= last, `${label}: timestamp went back from ${last} to ${t.timestamp}`);
    last = t.timestamp;
  }
}
