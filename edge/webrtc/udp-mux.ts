/**
 * One UDP port for every WebRTC session of the node (what a Kubernetes Service or a firewall can
 * expose), in front of werift, which binds one socket per session and has no shared-port mode.
 *
 * Each session's werift sockets are bound on 127.0.0.1 only. A browser's first packet to the
 * public port is an ICE connectivity check (RFC 8445 7.2.2, a STUN Binding request) whose
 * USERNAME is "<our ufrag>:<its ufrag>" (RFC 8445 7.2.2.1); the ufrag names the session. From then
 * on the browser's address is bound to a relay: a loopback socket of ours that forwards the
 * browser's datagrams (STUN, DTLS, SRTP, SRTCP) to werift and werift's answers back out of the
 * public port. werift sees the relay as the remote peer, so its Binding responses carry the
 * relay's address in XOR-MAPPED-ADDRESS; the relay rewrites that to the browser's real address
 * and re-signs the response (MESSAGE-INTEGRITY with the session's ICE password, FINGERPRINT),
 * so the browser learns no bogus peer-reflexive candidate.
 */
import { createHmac } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { crc32 } from 'node:zlib';
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
const STUN_BINDING_SUCCESS = 0x0101;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e; // RFC 8489 14.7

/**
 * SO_RCVBUF of the shared port and of each relay socket. Every RTP packet of a session passes
 * through its relay socket, and the kernel's default (net.core.rmem_default, 208 KiB, about 90
 * loopback datagrams) overflows in one event-loop stall of a few hundred ms or one cached-GOP
 * burst: bench/webrtc-swarm.ts saw 155k datagrams dropped in 30 s with 50 viewers, 200 with this.
 * Linux caps it at net.core.rmem_max.
 */
const UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Browsers check from a few candidates (interfaces, IPv4/IPv6); more than this is not a browser. */
const MAX_RELAYS_PER_SESSION = 8;

interface Entry {
  session: MuxSession;
  ufrag: string;
  /** Short-term credential key of our side (RFC 8489 9.1.1: the ICE password). */
  pwd: string;
  /** werift's socket for this session, on 127.0.0.1. */
  weriftPort: number;
  relays: Relay[];
}

interface Relay {
  entry: Entry;
  socket: Socket;
  address: string;
  port: number;
  key: string;
}

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
 * A Binding success response with XOR-MAPPED-ADDRESS set to `address:port` (IPv4), MESSAGE-
 * INTEGRITY recomputed with `pwd` and FINGERPRINT recomputed (RFC 8489 14.2, 14.5, 14.7). Other
 * attributes are kept. Undefined when the message is not shaped as expected (sent unchanged).
 */
export function rewriteMappedAddress(
  msg: Buffer,
  address: string,
  port: number,
  pwd: string,
): Buffer | undefined {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) return undefined;
  const out = Buffer.from(msg);
  let integrityAt = -1;
  let fingerprintAt = -1;
  let mapped = false;
  for (const a of stunAttributes(out)) {
    if (a.type === ATTR_XOR_MAPPED_ADDRESS && a.length === 8 && out[a.at + 1] === 0x01) {
      out.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), a.at + 2);
      const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
      out.writeUInt32BE((ip ^ STUN_MAGIC_COOKIE) >>> 0, a.at + 4);
      mapped = true;
    } else if (a.type === ATTR_MESSAGE_INTEGRITY && a.length === 20) integrityAt = a.start;
    else if (a.type === ATTR_FINGERPRINT && a.length === 4) fingerprintAt = a.start;
  }
  if (!mapped || integrityAt < 0) return undefined;
  // 14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the length field covering it
  out.writeUInt16BE(integrityAt + 24 - STUN_HEADER_BYTES, 2);
  const hmac = createHmac('sha1', pwd).update(out.subarray(0, integrityAt)).digest();
  hmac.copy(out, integrityAt + 4);
  if (fingerprintAt >= 0) {
    // 14.7: CRC-32 over the message up to FINGERPRINT, length covering it, XOR 0x5354554e
    out.writeUInt16BE(fingerprintAt + 8 - STUN_HEADER_BYTES, 2);
    out.writeUInt32BE((crc32(out.subarray(0, fingerprintAt)) ^ FINGERPRINT_XOR) >>> 0, fingerprintAt + 4);
  }
  out.writeUInt16BE(out.length - STUN_HEADER_BYTES, 2);
  return out;
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
  private readonly byRemote = new Map<string, Relay>();
  port = 0;
  /** Datagrams from unknown addresses that were not a check for a known session (garbage, stale). */
  dropped = 0;

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

  /** Routes checks naming this session's ufrag to it; returns the answer to send the browser. */
  register(session: MuxSession, localSdp: string, publicIp: string): string {
    const r = rewriteAnswer(localSdp, publicIp, this.port);
    const entry: Entry = { session, ufrag: r.ufrag, pwd: r.pwd, weriftPort: r.weriftPort, relays: [] };
    this.byUfrag.set(r.ufrag, entry);
    this.bySession.set(session.id, entry);
    return r.sdp;
  }

  unregister(session: MuxSession): void {
    const entry = this.bySession.get(session.id);
    if (!entry) return;
    this.bySession.delete(session.id);
    if (this.byUfrag.get(entry.ufrag) === entry) this.byUfrag.delete(entry.ufrag);
    for (const relay of entry.relays) {
      this.byRemote.delete(relay.key);
      relay.socket.close();
    }
    entry.relays = [];
  }

  get relayCount(): number {
    return this.byRemote.size;
  }

  private onPublic(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const relay = this.byRemote.get(key);
    if (relay) {
      relay.socket.send(msg, relay.entry.weriftPort, '127.0.0.1');
      return;
    }
    // A new address: only an ICE check for a session we know opens a relay.
    if (stunType(msg) !== STUN_BINDING_REQUEST) {
      this.dropped++;
      return;
    }
    const ufrag = stunLocalUfrag(msg);
    const entry = ufrag ? this.byUfrag.get(ufrag) : undefined;
    if (!entry || entry.session.closed || entry.relays.length >= MAX_RELAYS_PER_SESSION) {
      this.dropped++;
      return;
    }
    const socket = createSocket({ type: 'udp4', recvBufferSize: UDP_RECV_BUFFER_BYTES });
    const created: Relay = { entry, socket, address: rinfo.address, port: rinfo.port, key };
    entry.relays.push(created);
    this.byRemote.set(key, created);
    socket.on('error', () => {
      /* the session closing closes it */
    });
    socket.on('message', (out, from) => {
      if (from.port !== entry.weriftPort || from.address !== '127.0.0.1') return;
      let datagram: Buffer = out;
      if (stunType(out) === STUN_BINDING_SUCCESS)
        datagram = rewriteMappedAddress(out, created.address, created.port, entry.pwd) ?? out;
      this.socket?.send(datagram, created.port, created.address);
    });
    // Sends made while bind() is in progress are queued by node:dgram until the socket listens.
    socket.bind(0, '127.0.0.1');
    socket.send(msg, entry.weriftPort, '127.0.0.1');
  }

  async close(): Promise<void> {
    for (const entry of [...this.bySession.values()]) this.unregister(entry.session);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
