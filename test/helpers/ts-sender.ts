/** ffmpeg sending a test pattern as MPEG-TS over UDP or RTP (channel source tests), tracked for killAll. */
import { spawn } from 'node:child_process';
import { track } from './process.ts';

export function sendTs(
  url: string,
  format: 'mpegts' | 'rtp_mpegts',
  video: 'libx264' | 'libx265',
  seconds = 60,
  size = '320x240',
) {
  const vcodec =
    video === 'libx265'
      ? ['-c:v', 'libx265', '-x265-params', 'log-level=error:keyint=25', '-preset', 'ultrafast']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25'];
  return track(
    spawn(
      'ffmpeg',
      [
        '-v',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${size}:rate=25`,
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=48000',
        '-t',
        String(seconds),
        ...vcodec,
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'mp2',
        '-b:a',
        '96k',
        '-f',
        format,
        `${url}?pkt_size=1316`,
      ],
      { stdio: 'ignore' },
    ),
  );
}
