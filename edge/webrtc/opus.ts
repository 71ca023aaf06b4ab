/**
 * AAC → Opus for WebRTC viewers (browsers decode no AAC over WebRTC), once per stream: one ffmpeg
 * child reads the stream's AAC frames as ADTS on stdin and sends Opus in RTP (RFC 7587) to a
 * loopback UDP socket of ours, so each datagram is exactly one Opus packet with its 48 kHz
 * timestamp and no container needs parsing. Video is never transcoded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from '../../core/log.ts';
import { type AudioSpecificConfig, adtsHeader } from '../../media/codec/aac.ts';
import { parseRtp } from '../../media/rtp/rtp.ts';

export interface OpusTranscoderOptions {
  ffmpegPath: string;
  /** One Opus packet (20 ms) and its position on a 48 kHz clock that starts at 0 (wraps at 2^32). */
  onPacket: (payload: Buffer, samples: number) => void;
}

/** AAC frames waiting for ffmpeg's stdin beyond this are dropped (ffmpeg stalled): ~5 s at 256 kbit/s. */
const MAX_PENDING_BYTES = 160 * 1024;

export class OpusTranscoder {
  private readonly config: AudioSpecificConfig;
  private readonly log: Logger;
  private readonly options: OpusTranscoderOptions;
  private child: ChildProcess | undefined;
  private readonly socket: Socket;
  private firstTimestamp: number | undefined;
  private queued: Buffer[] = [];
  closed = false;

  constructor(config: AudioSpecificConfig, log: Logger, options: OpusTranscoderOptions) {
    this.config = config;
    this.log = log;
    this.options = options;
    this.socket = createSocket('udp4');
    this.socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== '127.0.0.1') return; // only our ffmpeg writes here
      const rtp = parseRtp(msg);
      if (!rtp || rtp.payload.length === 0) return;
      // RFC 7587 4.1: the RTP clock of Opus is 48 kHz whatever the input rate.
      if (this.firstTimestamp === undefined) this.firstTimestamp = rtp.timestamp;
      this.options.onPacket(rtp.payload, (rtp.timestamp - this.firstTimestamp) >>> 0);
    });
    this.socket.on('error', (err) => this.log.warn({ err }, 'opus: socket error'));
    this.socket.bind(0, '127.0.0.1', () => this.start());
  }

  private start(): void {
    if (this.closed) return;
    const port = this.socket.address().port;
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      '-probesize',
      '32',
      '-analyzeduration',
      '0',
      '-f',
      'aac',
      '-i',
      'pipe:0',
      '-vn',
      '-c:a',
      'libopus',
      '-b:a',
      '96k',
      '-ar',
      '48000',
      '-ac',
      '2',
      '-application',
      'lowdelay',
      '-frame_duration',
      '20',
      '-f',
      'rtp',
      '-payload_type',
      '111',
      `rtp://127.0.0.1:${port}?pkt_size=1200`,
    ];
    const child = spawn(this.options.ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    child.stdin?.on('error', () => {
      /* ffmpeg went away; 'exit' reports it */
    });
    child.on('error', (err) => this.log.warn({ err }, 'opus: ffmpeg could not start (is ffmpeg installed?)'));
    child.on('exit', (code, signal) => {
      if (!this.closed)
        this.log.warn({ code, signal, stderr: stderr.trim() }, 'opus: ffmpeg exited; WebRTC audio stops');
      this.close();
    });
    for (const b of this.queued) child.stdin?.write(b);
    this.queued = [];
  }

  /** One raw AAC frame (the FLV AUDIODATA body after its 2-byte header). */
  push(rawAac: Buffer): void {
    if (this.closed || rawAac.length === 0) return;
    let adts: Buffer;
    try {
      adts = Buffer.concat([adtsHeader(this.config, rawAac.length), rawAac]);
    } catch {
      return; // too large for ADTS: not a real AAC frame
    }
    const stdin = this.child?.stdin;
    if (!stdin) {
      this.queued.push(adts);
      return;
    }
    if (stdin.writableLength > MAX_PENDING_BYTES) return;
    stdin.write(adts);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queued = [];
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      child.kill('SIGKILL');
    }
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }
}
