/**
 * Where the all-in-one keeps the channels users create (`--data-dir`, default ./data): one JSON
 * file written atomically (write a temp file, fsync, rename over the old one, fsync the directory),
 * so a crash or power cut leaves either the old or the new file, never half of one. Records are
 * stored whole, so fields added to ChannelRecord later (sources, forwards) persist without a
 * change here. Only hashed keys are stored, never the keys themselves.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RelaycastError } from '../errors.ts';
import type { ChannelRecord } from './types.ts';

/** What MemoryRegistry persists channels through. Synchronous: channel writes are rare. */
export interface ChannelStore {
  /** Every stored channel (empty on first start). */
  load(): ChannelRecord[];
  /** Replaces the stored set; throws if it could not be made durable. */
  save(channels: readonly ChannelRecord[]): void;
}

const FORMAT_VERSION = 1;

export class JsonFileChannelStore implements ChannelStore {
  readonly file: string;
  private readonly dir: string;

  /** Creates `dir` (and parents) if missing. */
  constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, 'channels.json');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new RelaycastError(
        'RC_CONFIG_INVALID',
        `cannot create the data directory ${dir}: ${(err as Error).message}; pass a writable --data-dir`,
        { cause: err },
      );
    }
  }

  load(): ChannelRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new RelaycastError(
        'RC_CONFIG_INVALID',
        `cannot read ${this.file}: ${(err as Error).message}; check its permissions or pass another --data-dir`,
        { cause: err },
      );
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new RelaycastError(
        'RC_CONFIG_INVALID',
        `${this.file} is not valid JSON (${(err as Error).message}); restore it from a backup or move it away to start with no channels`,
        { cause: err },
      );
    }
    const channels = (doc as { version?: unknown; channels?: unknown } | null)?.channels;
    if ((doc as { version?: unknown })?.version !== FORMAT_VERSION || !Array.isArray(channels))
      throw new RelaycastError(
        'RC_CONFIG_INVALID',
        `${this.file} is not a relaycast channels file (version ${FORMAT_VERSION}); move it away to start with no channels`,
      );
    return channels.map((c, i) => {
      const r = c as Partial<ChannelRecord> | null;
      if (!r || typeof r.app !== 'string' || typeof r.name !== 'string' || typeof r.keyHash !== 'string')
        throw new RelaycastError(
          'RC_CONFIG_INVALID',
          `${this.file}: channels[${i}] lacks app, name or keyHash`,
        );
      return r as ChannelRecord;
    });
  }

  save(channels: readonly ChannelRecord[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const body = `${JSON.stringify({ version: FORMAT_VERSION, channels }, null, 2)}\n`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      // the rename itself must survive a power cut: fsync the directory entry
      const dirFd = openSync(this.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (err) {
      throw new RelaycastError(
        'RC_INTERNAL',
        `could not save channels to ${this.file}: ${(err as Error).message}; check free space and permissions of --data-dir`,
        { cause: err },
      );
    }
  }
}
