/**
 * What the WebRTC benches share: relaycast with WHEP on a free UDP port, as the all-in-one or as
 * redis-server + origin + edge (the edge serves the viewers), and the viewers' WHEP URL.
 */
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type Node, startNode, startRedisServer } from './cluster-lib.ts';

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface WebrtcTarget {
  via: 'all' | 'edge';
  /** The node viewers talk to (the all-in-one, or the edge): its process is the one sampled. */
  viewerNode: Node;
  /** RTMP port the publisher pushes to (the all-in-one, or the origin). */
  publishRtmp: number;
  udpPort: number;
}

/** Starts the target; `extra` goes to the node that serves viewers. Killed by PID on exit. */
export async function startWebrtcTarget(
  via: 'all' | 'edge',
  extra: string[] = [],
  /** node's own flags for the viewer node (e.g. --cpu-prof). */
  nodeArgs: string[] = [],
): Promise<WebrtcTarget> {
  const udpPort = await freeUdpPort();
  // cluster-lib turns WebRTC off on every node; the flag given last wins
  const webrtc = ['--webrtc-udp-port', String(udpPort), '--webrtc-public-ip', '127.0.0.1', ...extra];
  if (via === 'edge') {
    const cluster = ['--redis-url', await startRedisServer(), '--advertise-host', '127.0.0.1'];
    const origin = await startNode('origin', [...cluster, '--node-id', 'bench-origin', '--http-port', '0']);
    const edge = await startNode(
      'edge',
      [...cluster, '--node-id', 'bench-edge', '--internal-port', '0', ...webrtc],
      nodeArgs,
    );
    return { via, viewerNode: edge, publishRtmp: origin.rtmp, udpPort };
  }
  const node = await startNode('all', webrtc, nodeArgs);
  return { via, viewerNode: node, publishRtmp: node.rtmp, udpPort };
}

/** Until `url` (a playlist of the stream) answers 200: the stream is live on the viewer node. */
export async function waitLive(url: string, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(url).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === 200) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Percentile p (0..100) of ascending `sorted`, rounded; null when empty. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
}

/**
 * Machine-wide UDP counters (/proc/net/snmp): datagrams dropped because a socket's receive buffer
 * was full (RcvbufErrors) or that came to a port nobody listens on (NoPorts).
 */
export function udpCounters(): { rcvbufErrors: number; noPorts: number } {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('Udp:'));
    const names = lines[i]!.split(' ');
    const vals = lines[i + 1]!.split(' ');
    const get = (n: string) => Number(vals[names.indexOf(n)] ?? 0);
    return { rcvbufErrors: get('RcvbufErrors'), noPorts: get('NoPorts') };
  } catch {
    return { rcvbufErrors: -1, noPorts: -1 };
  }
}

/**
 * Datagrams dropped on a full receive buffer, per UDP socket that `pids` hold open, by socket
 * inode (the "drops" column of /proc/net/udp). Merge samples with max(): a socket's counter
 * goes when it closes.
 */
export function udpDropsOf(
  pids: number[],
  into: Map<number, number>,
  localPorts?: Map<number, number>,
): void {
  const inodes = new Set<number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(Number(m[1]));
      } catch {
        /* closed meanwhile */
      }
    }
  }
  let table = '';
  try {
    table = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return;
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (inodes.has(inode) && drops > (into.get(inode) ?? 0)) into.set(inode, drops);
    if (inodes.has(inode)) localPorts?.set(inode, Number.parseInt(f[1]?.split(':')[1] ?? '0', 16));
  }
}

export function sumValues(m: Map<number, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
