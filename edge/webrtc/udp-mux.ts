/**
 * One UDP port for every WebRTC session of the node (what a Kubernetes Service or a firewall can
 * expose), in front of werift, which binds one socket per session and has no shared-port mode.
 *
 * A browser's first packet to the public port is an ICE connectivity check (RFC 8445 7.2.2, a
 * STUN Binding request) whose USERNAME is "<our ufrag>:<its ufrag>" (RFC 8445 7.2.2.1); the ufrag
 * names the session. From then on the browser's address belongs to that session: its datagrams
 * (STUN, DTLS, SRTP, SRTCP) are handed to the session's werift UDP transport in process, and what
 * werift sends goes out of the public port to that address. werift sees the browser's real
 * address, so its Binding responses are right as they are, and a packet costs one send and one
 * receive system call (the loopback relay this replaced cost three of each and two event-loop
 * callbacks per packet). werift's own per-session socket stays bound on 127.0.0.1, unused.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { RelaycastError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';

/** What the mux needs of a session: an id and whether it is still open. */
export interface MuxSession {
  readonly id: string;
  readonly closed: boolean;
}

// RFC 8489 5: STUN header (type, length, magic cookie, 96-bit transaction id) and attributes
const STUN_HEADER_BYTES = 20;
const STUN_MAGIC_COOKIE = 0x2112a442;
const STUN_BINDING_REQUEST = 0x0001;
const ATTR_USERNAME = 0x0006;

/**
 * SO_RCVBUF of the shared port. Every datagram of every session arrives here, and the kernel's
 * default (net.core.rmem_default, 208 KiB, about 90 datagrams) overflows in one event-loop stall
 * of a few hundred ms: bench/webrtc-swarm.ts saw 155k datagrams dropped in 30 s with 50 viewers
 * behind default-sized buffers. Linux caps it at net.core.rmem_max.
 */
const UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Browsers check from a few candidates (interfaces, IPv4/IPv6); more than this is not a browser. */
const MAX_REMOTES_PER_SESSION = 8;

/** An address as werift's transports take and give it. */
export type TransportAddress = [host: string, port: number];

/**
 * The part of werift's UDP transport (werift/lib/common/src/transport.js, UdpTransport) the mux
 * drives: `send` is replaced so werift's datagrams leave through the shared port, and `onData`
 * (set by werift's STUN protocol) is called with what the session's browser sends there.
 */
export interface SessionTransport {
  readonly port: number;
  send: (data: Buffer, addr?: TransportAddress) => Promise<void>;
  onData: (data: Buffer, addr: TransportAddress) => void;
}

interface Entry {
  session: MuxSession;
  ufrag: string;
  transport: SessionTransport;
  /** The browser addresses bound to this session, at most MAX_REMOTES_PER_SESSION. */
  remotes: Remote[];
}

interface Remote {
  host: string;
  port: number;
  /** "host:port", the byRemote key. */
  key: string;
}

const SENT: Promise<void> = Promise.resolve();

/** STUN message type of a datagram, or undefined if it is not STUN (RFC 7983 demultiplexing too). */
export function stunType(msg: Buffer): number | undefined {
  if (msg.length < STUN_HEADER_BYTES || msg[0]! > 3) return undefined; // RFC 7983: 0..3 is STUN
  if (msg.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return undefined;
  if (msg.readUInt16BE(2) + STUN_HEADER_BYTES !== msg.length) return undefined;
  return msg.readUInt16BE(0);
}

/** Attribute offsets (value start, length) of a STUN message, in order; stops at a malformed one. */
function* stunAttributes(
  msg: Buffer,
): Generator<{ type: number; at: number; length: number; start: number }> {
  let pos = STUN_HEADER_BYTES;
  while (pos + 4 <= msg.length) {
    const type = msg.readUInt16BE(pos);
    const length = msg.readUInt16BE(pos + 2);
    if (pos + 4 + length > msg.length) return;
    yield { type, at: pos + 4, length, start: pos };
    pos += 4 + length + ((4 - (length % 4)) % 4); // values are padded to 4 bytes
  }
}

/** Our ufrag from a Binding request's USERNAME ("<ours>:<theirs>"), or undefined. */
export function stunLocalUfrag(msg: Buffer): string | undefined {
  for (const a of stunAttributes(msg)) {
    if (a.type !== ATTR_USERNAME) continue;
    const username = msg.toString('utf8', a.at, a.at + a.length);
    const colon = username.indexOf(':');
    return colon > 0 ? username.slice(0, colon) : undefined;
  }
  return undefined;
}

/**
 * The answer with werift's candidates replaced by one host candidate on the shared port (RFC
 * 8839 5.1), and the loopback port werift listens on for this session.
 */
export function rewriteAnswer(
  sdp: string,
  publicIp: string,
  port: number,
): { sdp: string; ufrag: string; pwd: string; weriftPort: number } {
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let weriftPort: number | undefined;
  for (const l of lines) {
    if (l.startsWith('a=ice-ufrag:')) ufrag ??= l.slice('a=ice-ufrag:'.length);
    else if (l.startsWith('a=ice-pwd:')) pwd ??= l.slice('a=ice-pwd:'.length);
    else if (l.startsWith('a=candidate:')) {
      // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
      const f = l.split(' ');
      if (f[2]?.toLowerCase() === 'udp' && f[4] === '127.0.0.1') weriftPort ??= Number(f[5]);
    }
  }
  if (!ufrag || !pwd || !weriftPort)
    throw new Error('the WebRTC stack gave no loopback UDP candidate or ICE credentials');
  const family = publicIp.includes(':') ? 'IP6' : 'IP4';
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('a=candidate:') || l === 'a=end-of-candidates') continue;
    if (l.startsWith('c=IN ')) {
      out.push(`c=IN ${family} ${publicIp}`);
      continue;
    }
    if (l.startsWith('m=')) {
      const f = l.split(' ');
      f[1] = f[1] === '0' ? '0' : String(port);
      out.push(f.join(' '));
      continue;
    }
    out.push(l);
    if (l.startsWith('a=ice-pwd:')) {
      out.push(`a=candidate:1 1 udp 2130706431 ${publicIp} ${port} typ host`);
      out.push('a=end-of-candidates');
    }
  }
  return { sdp: `${out.join('\r\n')}\r\n`, ufrag, pwd, weriftPort };
}

export class UdpMux {
  private socket: Socket | undefined;
  private readonly log: Logger;
  private readonly byUfrag = new Map<string, Entry>();
  private readonly bySession = new Map<string, Entry>();
  private readonly byRemote = new Map<string, Entry>();
  port = 0;
  /** Datagrams from unknown addresses that were not a check for a known session (garbage, stale). */
  dropped = 0;
  /** Datagrams werift wanted to send to an address that is not one of its session's browser's. */
  refused = 0;

  constructor(log: Logger) {
    this.log = log;
  }

  listen(port: number, host: string): Promise<number> {
    const socket = createSocket({ type: 'udp4', reuseAddr: false, recvBufferSize: UDP_RECV_BUFFER_BYTES });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onPublic(msg, rinfo));
    return new Promise((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new RelaycastError(
                'RC_PORT_IN_USE',
                `WebRTC UDP port ${port} is in use; pick another with --webrtc-udp-port`,
                { cause: err },
              )
            : err,
        ),
      );
      socket.bind(port, host === '0.0.0.0' || host === '::' ? undefined : host, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.log.warn({ err }, 'webrtc udp socket error'));
        this.port = socket.address().port;
        resolve(this.port);
      });
    });
  }

  /**
   * Routes checks naming this session's ufrag to it and takes over its transport (the one werift
   * listens on for the answer's loopback candidate); returns the answer to send the browser.
   */
  register(session: MuxSession, localSdp: string, publicIp: string, transports: SessionTransport[]): string {
    const r = rewriteAnswer(localSdp, publicIp, this.port);
    const transport = transports.find((t) => t.port === r.weriftPort);
    if (!transport)
      throw new Error(
        `the WebRTC stack's UDP transport for port ${r.weriftPort} was not found (is werift the version in package-lock.json?)`,
      );
    const entry: Entry = { session, ufrag: r.ufrag, transport, remotes: [] };
    // Every RTP packet of the session passes here: no strings built or parsed per packet.
    transport.send = (data, addr) => {
      const to = addr
        ? entry.remotes.find((r) => r.port === addr[1] && r.host === addr[0])
        : entry.remotes[0];
      // werift (ICE-lite) only answers where checks came from; anything else is not sent.
      if (!to || !this.socket || session.closed) {
        this.refused++;
        return SENT;
      }
      this.socket.send(data, to.port, to.host);
      return SENT;
    };
    this.byUfrag.set(r.ufrag, entry);
    this.bySession.set(session.id, entry);
    return r.sdp;
  }

  unregister(session: MuxSession): void {
    const entry = this.bySession.get(session.id);
    if (!entry) return;
    this.bySession.delete(session.id);
    if (this.byUfrag.get(entry.ufrag) === entry) this.byUfrag.delete(entry.ufrag);
    for (const { key } of entry.remotes) if (this.byRemote.get(key) === entry) this.byRemote.delete(key);
    entry.remotes = [];
  }

  /** Browser addresses bound to sessions. */
  get remoteCount(): number {
    return this.byRemote.size;
  }

  private onPublic(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let entry = this.byRemote.get(key);
    if (!entry) {
      // A new address: only an ICE check for a session we know binds it to that session.
      if (stunType(msg) !== STUN_BINDING_REQUEST) {
        this.dropped++;
        return;
      }
      const ufrag = stunLocalUfrag(msg);
      entry = ufrag ? this.byUfrag.get(ufrag) : undefined;
      if (!entry || entry.session.closed || entry.remotes.length >= MAX_REMOTES_PER_SESSION) {
        this.dropped++;
        return;
      }
      entry.remotes.push({ host: rinfo.address, port: rinfo.port, key });
      this.byRemote.set(key, entry);
    }
    try {
      entry.transport.onData(msg, [rinfo.address, rinfo.port]);
    } catch (err) {
      this.log.debug({ err, session: entry.session.id }, 'webrtc datagram handling failed');
    }
  }

  async close(): Promise<void> {
    for (const entry of [...this.bySession.values()]) this.unregister(entry.session);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
