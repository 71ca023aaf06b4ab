/** node-media-server 4 as a peer (test/interop/nms-peer.cjs), on free ports; stopped by killAll. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, NODE, track, waitFor } from './process.ts';

export async function startNms(dataDir: string): Promise<{ rtmp: number; http: number }> {
  const ports = { rtmp: await freePort(), http: await freePort() };
  const cfg = { rtmpPort: ports.rtmp, httpPort: ports.http, dataDir, relays: [] };
  const nms = track(
    spawn(NODE, [join(import.meta.dirname, '..', 'interop', 'nms-peer.cjs'), JSON.stringify(cfg)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  nms.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  await waitFor('node-media-server to start', () => (out.includes('NMS-READY') ? true : undefined), 20_000);
  return ports;
}
