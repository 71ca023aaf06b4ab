/**
 * An RTMP client built on the repo's own RTMP code: ClientHandshake (simple handshake),
 * ChunkReader / ChunkWriter, the AMF0 command helpers and the protocol control messages. It
 * publishes (forwarding to YouTube/Twitch/another relaycast, the publish-swarm bench) and plays
 * (load tools, tests). One instance = one TCP or TLS connection; every wait has a timeout; it
 * follows media/lifecycle.ts (close(reason) once, a 'close' event, `closeError` says why).
 *
 *   const c = await RtmpClient.open('127.0.0.1', 1935, { tls: false });
 *   c.setChunkSize(4096);
 *   await c.connect('live', 'rtmp://127.0.0.1:1935/live');
 *   c.announcePublish('key');                       // releaseStream + FCPublish, as encoders do
 *   const sid = await c.createStream();
 *   await c.publish(sid, 'key');                    // NetStream.Publish.Start, or RC_RTMP_REJECTED
 *   c.sendMedia(sid, 9, ts, body);                  // FLV tag bodies (8 audio, 9 video, 18 data)
 *   c.unpublish(sid, 'key'); c.end();               // FCUnpublish + deleteStream, then FIN
 *
 * Protocol duties it carries out by itself: Acknowledgement when the server's window is reached
 * (spec 5.4.3), PingResponse to every PingRequest (7.1.7), Set Chunk Size / Abort from the server
 * (applied by the ChunkReader).
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AmfObject, AmfValue } from '../amf/amf0.ts';
import { encodeAmf0 } from '../amf/amf0.ts';
import { MediaError, type MediaErrorCode } from '../errors.ts';
import { Lifecycle } from '../lifecycle.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from './chunk.ts';
import { decodeCommand, encodeCommand } from './command.ts';
import { ClientHandshake } from './handshake.ts';
import * as M from './messages.ts';

/** Chunk stream ids a client uses (as ffmpeg does: commands on 3, play/publish on 8, media 4/6). */
const CSID_COMMAND = 3;
const CSID_STREAM = 8;
const CSID_AUDIO = 4;
const CSID_VIDEO = 6;
const CSID_DATA = 5;

/** Default bound on every wait (TCP/TLS connect + handshake, each command's answer). */
export const RTMP_CLIENT_TIMEOUT_MS = 10_000;
/** Status codes and acks kept for inspection: a long publish must not grow them without bound. */
const KEEP_LAST = 1000;

const SET_DATA_FRAME = encodeAmf0(['@setDataFrame']);

export type RtmpClientErrorCode = Extract<
  MediaErrorCode,
  'RC_RTMP_CONNECT_FAILED' | 'RC_RTMP_TIMEOUT' | 'RC_RTMP_REJECTED' | 'RC_RTMP_CLOSED' | 'RC_RTMP_BAD_CHUNK'
>;

/**
 * Why a client call failed: RC_RTMP_CONNECT_FAILED (TCP/TLS), RC_RTMP_TIMEOUT (a wait ran out),
 * RC_RTMP_REJECTED (the server answered _error or an onStatus at level error; the message carries
 * its code and description, e.g. "NetStream.Publish.BadName: …"), RC_RTMP_CLOSED (the connection
 * went away), or a protocol error code from the reader.
 */
export class RtmpClientError extends MediaError {}

interface Pending {
  resolve: (args: AmfValue[]) => void;
  reject: (e: Error) => void;
}

export type RtmpClientEvents = {
  /** Every onStatus the server sends (NetStream.Publish.Start, ….BadName, ….Unpublish.Success). */
  status: [info: AmfObject];
};

export interface RtmpOpenOptions {
  /** Bound on TCP/TLS connect + RTMP handshake, and the default for later waits (ms). */
  timeoutMs?: number;
  /** Runs when TCP (or TLS) connects, before the handshake (to time it). */
  onConnect?: () => void;
  localAddress?: string;
  /** RTMPS: RTMP inside TLS (node:tls). */
  tls?: boolean;
  /** RTMPS only: verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** RTMPS only: SNI name (default: `host` unless it is an IP address). */
  servername?: string;
  /** Aborts the connect/handshake (the promise rejects with RC_RTMP_CLOSED, the socket is destroyed). */
  signal?: AbortSignal;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

export class RtmpClient extends Lifecycle<string, RtmpClientEvents> {
  readonly socket: Socket;
  /** Called for every audio (8), video (9) and data (18) message (a property: it is the hot path). */
  onMedia: ((msg: RtmpMessage) => void) | undefined;
  /** The error that closed the connection (code + message), if it failed rather than being closed. */
  closeError: RtmpClientError | undefined;
  /** Bytes received from the server (handshake included). */
  bytesIn = 0;
  /** Bytes written to the socket (handshake included). */
  bytesOut = 0;
  /** The last onStatus codes received, in order. */
  readonly statusCodes: string[] = [];
  /** Sequence numbers of the server's Acknowledgements (RTMP spec 5.4.3), in order (the last ones). */
  readonly acks: number[] = [];
  /** Bound on each command's answer (ms). */
  timeoutMs: number;

  private handshake: ClientHandshake | undefined = new ClientHandshake();
  private handshakeDone: (() => void) | undefined;
  private readonly reader = new ChunkReader();
  private readonly writer = new ChunkWriter();
  private readonly pending = new Map<number, Pending>();
  private statusWaiters: ((info: AmfObject) => void)[] = [];
  private nextTx = 1;
  private windowAckSize = 0;
  private lastAck = 0;
  private tcUrl = '';

  private constructor(socket: Socket, timeoutMs: number) {
    super();
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        this.handshake
          ? new RtmpClientError(
              'RC_RTMP_CONNECT_FAILED',
              `cannot connect: ${err.code ?? ''} ${err.message}`.trim(),
            )
          : new RtmpClientError('RC_RTMP_CLOSED', `connection lost: ${err.message}`),
      ),
    );
    socket.on('close', () =>
      this.fail(
        new RtmpClientError(
          'RC_RTMP_CLOSED',
          this.handshake ? 'the server closed the connection during the handshake' : 'closed by the server',
        ),
      ),
    );
  }

  /** TCP (or TLS) connect + RTMP handshake (simple). */
  static open(host: string, port: number, options: RtmpOpenOptions = {}): Promise<RtmpClient> {
    const timeoutMs = options.timeoutMs ?? RTMP_CLIENT_TIMEOUT_MS;
    const local = options.localAddress ? { localAddress: options.localAddress } : {};
    let socket: Socket;
    if (options.tls) {
      const servername = options.servername ?? (isIpLiteral(host) ? undefined : host);
      socket = tlsConnect({
        host,
        port,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        ...(servername ? { servername } : {}),
        ...local,
      });
    } else {
      socket = tcpConnect({ host, port, ...local });
    }
    const client = new RtmpClient(socket, timeoutMs);
    const signal = options.signal;
    if (!signal)
      return client.startHandshake(options.tls ? 'secureConnect' : 'connect', timeoutMs, options.onConnect);
    const abort = () => client.fail(new RtmpClientError('RC_RTMP_CLOSED', 'connect aborted'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    return client
      .startHandshake(options.tls ? 'secureConnect' : 'connect', timeoutMs, options.onConnect)
      .finally(() => signal.removeEventListener('abort', abort));
  }

  /**
   * The handshake over a socket that is already connected (an in-memory fake socket in unit tests,
   * see core/testing/fake-net.ts).
   */
  static over(socket: Socket, timeoutMs = RTMP_CLIENT_TIMEOUT_MS): Promise<RtmpClient> {
    return new RtmpClient(socket, timeoutMs).startHandshake(undefined, timeoutMs);
  }

  private startHandshake(
    connectEvent: 'connect' | 'secureConnect' | undefined,
    timeoutMs: number,
    onConnect?: () => void,
  ): Promise<RtmpClient> {
    return new Promise<RtmpClient>((resolve, reject) => {
      if (this.closed) {
        reject(this.closeError ?? new RtmpClientError('RC_RTMP_CLOSED', 'closed before the handshake'));
        return;
      }
      const onClose = () => {
        clearTimeout(timer);
        reject(this.closeError ?? new RtmpClientError('RC_RTMP_CLOSED', 'closed during the handshake'));
      };
      const timer = setTimeout(() => {
        this.fail(
          new RtmpClientError(
            'RC_RTMP_TIMEOUT',
            `no RTMP handshake within ${timeoutMs} ms (is it an RTMP server${connectEvent === 'secureConnect' ? ' speaking TLS' : ''}?)`,
          ),
        );
        this.socket.destroy();
      }, timeoutMs);
      timer.unref();
      this.once('close', onClose);
      this.handshakeDone = () => {
        clearTimeout(timer);
        this.off('close', onClose);
        resolve(this);
      };
      const start = () => {
        onConnect?.();
        this.write(this.handshake!.start());
      };
      if (connectEvent) this.socket.once(connectEvent, start);
      else start();
    });
  }

  /** Sends one raw message (tests: a window ack size, a command the helpers do not cover). */
  sendMessage(msg: RtmpMessage): void {
    this.send(msg);
  }

  /** Sends a command with no answer awaited (FCUnpublish, deleteStream). */
  sendCommand(name: string, streamId: number, ...args: AmfValue[]): void {
    this.send(
      encodeCommand(streamId ? CSID_STREAM : CSID_COMMAND, streamId, name, this.nextTx++, null, ...args),
    );
  }

  private write(buf: Buffer): void {
    this.bytesOut += buf.length;
    this.socket.write(buf);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    try {
      let data: Buffer | undefined = chunk;
      if (this.handshake) {
        const step = this.handshake.push(chunk);
        if (step.reply) this.write(step.reply);
        if (!step.done) return;
        this.handshake = undefined;
        this.handshakeDone?.();
        this.handshakeDone = undefined;
        data = step.rest;
        if (!data?.length) return;
      }
      const messages = this.reader.push(data);
      // 5.4.3: acknowledge once the peer's window of bytes has arrived since the last ack
      if (this.windowAckSize > 0 && this.reader.bytesReceived - this.lastAck >= this.windowAckSize) {
        this.lastAck = this.reader.bytesReceived;
        this.send(M.acknowledgementMessage(this.reader.bytesReceived >>> 0));
      }
      for (const msg of messages) this.onMessage(msg);
    } catch (err) {
      const code = err instanceof MediaError ? err.code : 'RC_RTMP_BAD_CHUNK';
      this.fail(new RtmpClientError(code, `bad data from the server: ${(err as Error).message}`));
      this.socket.destroy();
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.typeId) {
      case M.AUDIO:
      case M.VIDEO:
      case M.DATA_AMF0:
        this.onMedia?.(msg);
        return;
      case M.AGGREGATE:
        for (const sub of M.splitAggregate(msg)) this.onMessage(sub);
        return;
      case M.WINDOW_ACK_SIZE:
        this.windowAckSize = M.parseUint32Payload(msg.payload);
        return;
      case M.ACK:
        keepLast(this.acks, M.parseUint32Payload(msg.payload));
        return;
      case M.USER_CONTROL: {
        const uc = M.parseUserControl(msg.payload);
        if (uc.event === M.PING_REQUEST) this.send(M.pingResponseMessage(uc.value));
        return;
      }
      case M.COMMAND_AMF0:
      case M.COMMAND_AMF3: {
        const cmd = decodeCommand(msg);
        if (cmd.name === '_result' || cmd.name === '_error') {
          const p = this.pending.get(cmd.transactionId);
          if (!p) return; // releaseStream/FCPublish answers, which nobody awaits
          this.pending.delete(cmd.transactionId);
          if (cmd.name === '_result') p.resolve(cmd.args);
          else p.reject(rejected(cmd.args[0]));
        } else if (cmd.name === 'onStatus') {
          const info = (cmd.args[0] ?? {}) as AmfObject;
          keepLast(this.statusCodes, String(info.code ?? ''));
          for (const w of this.statusWaiters.splice(0)) w(info);
          this.emit('status', info);
        }
        // onBWDone, onFCPublish, |RtmpSampleAccess, close …: nothing to answer
        return;
      }
      default:
        // Set Chunk Size / Abort are applied by the reader; Set Peer Bandwidth needs no answer.
        return;
    }
  }

  private send(msg: RtmpMessage): void {
    if (this.closed || this.socket.destroyed) return;
    this.write(this.writer.encode(msg));
  }

  private call(name: string, obj: AmfObject | null, ...args: AmfValue[]): Promise<AmfValue[]> {
    this.assertUsable(name);
    const tx = this.nextTx++;
    return this.withTimeout(
      `no answer to ${name}`,
      new Promise<AmfValue[]>((resolve, reject) => {
        this.pending.set(tx, { resolve, reject });
        this.send(encodeCommand(CSID_COMMAND, 0, name, tx, obj, ...args));
      }),
      () => this.pending.delete(tx),
    );
  }

  private assertUsable(what: string): void {
    if (this.closed)
      throw (
        this.closeError ??
        new RtmpClientError('RC_RTMP_CLOSED', `${what}: connection closed (${this.closeReason})`)
      );
  }

  private withTimeout<T>(what: string, p: Promise<T>, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const ms = this.timeoutMs;
    return Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout?.();
          reject(new RtmpClientError('RC_RTMP_TIMEOUT', `${what} within ${ms} ms`));
        }, ms);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Waits for an onStatus with one of `okCodes`. One at level error rejects with RC_RTMP_REJECTED
   * (its code and description in the message); so does the connection closing.
   */
  private status(okCodes: string[]): Promise<AmfObject> {
    let waiter: ((info: AmfObject) => void) | undefined;
    return this.withTimeout(
      `no ${okCodes[0]}`,
      new Promise<AmfObject>((resolve, reject) => {
        waiter = (info: AmfObject) => {
          const code = String(info.code ?? '');
          if (info.level === 'closed') reject(this.closeError ?? new RtmpClientError('RC_RTMP_CLOSED', code));
          else if (okCodes.includes(code)) resolve(info);
          else if (info.level === 'error') reject(rejected(info));
          else this.statusWaiters.push(waiter!);
        };
        this.statusWaiters.push(waiter);
      }),
      () => {
        this.statusWaiters = this.statusWaiters.filter((w) => w !== waiter);
      },
    );
  }

  /** NetConnection connect; `tcUrl` defaults to rtmp://<remote>/<app>. */
  async connect(app: string, tcUrl?: string): Promise<void> {
    this.tcUrl =
      tcUrl ?? `rtmp://${this.socket.remoteAddress ?? '127.0.0.1'}:${this.socket.remotePort ?? 1935}/${app}`;
    await this.call('connect', {
      app,
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; relaycast)',
      tcUrl: this.tcUrl,
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
    });
  }

  async createStream(): Promise<number> {
    const args = await this.call('createStream', null);
    const id = args[0];
    if (typeof id !== 'number')
      throw new RtmpClientError('RC_RTMP_REJECTED', 'createStream answered without a stream id');
    return id;
  }

  async play(streamId: number, name: string): Promise<void> {
    this.assertUsable('play');
    const started = this.status(['NetStream.Play.Start']);
    this.send(encodeCommand(CSID_STREAM, streamId, 'play', this.nextTx++, null, name, -1000));
    await started;
  }

  /** publish <name> 'live'; resolves on NetStream.Publish.Start, rejects on an error status. */
  async publish(streamId: number, name: string): Promise<void> {
    this.assertUsable('publish');
    const started = this.status(['NetStream.Publish.Start']);
    this.send(encodeCommand(CSID_STREAM, streamId, 'publish', this.nextTx++, null, name, 'live'));
    await started;
  }

  /** The two commands encoders send before createStream when publishing (answers are ignored). */
  announcePublish(name: string): void {
    for (const cmd of ['releaseStream', 'FCPublish'])
      this.send(encodeCommand(CSID_COMMAND, 0, cmd, this.nextTx++, null, name));
  }

  /** Ends a publish the way encoders do: FCUnpublish, then deleteStream (answers are not awaited). */
  unpublish(streamId: number, name: string): void {
    this.send(encodeCommand(CSID_COMMAND, 0, 'FCUnpublish', this.nextTx++, null, name));
    this.send(encodeCommand(CSID_COMMAND, 0, 'deleteStream', this.nextTx++, null, streamId));
  }

  /** Set Chunk Size (5.4.1) for everything this client sends from now on. */
  setChunkSize(size: number): void {
    this.send(M.setChunkSizeMessage(size));
    this.writer.chunkSize = size;
  }

  /**
   * Queues one FLV tag body as an RTMP message (audio 8, video 9, script 18 with @setDataFrame).
   * Returns the socket's backlog in bytes (what the kernel has not taken yet).
   */
  sendMedia(streamId: number, type: number, timestamp: number, body: Buffer): number {
    if (this.closed || this.socket.destroyed) return 0;
    const payload = type === M.DATA_AMF0 ? Buffer.concat([SET_DATA_FRAME, body]) : body;
    const csid = type === M.AUDIO ? CSID_AUDIO : type === M.VIDEO ? CSID_VIDEO : CSID_DATA;
    this.write(this.writer.encode({ csid, typeId: type, streamId, timestamp, payload }));
    return this.socket.writableLength;
  }

  /** Bytes queued on the socket and not yet taken by the kernel. */
  get backlogBytes(): number {
    return this.socket.writableLength;
  }

  private fail(err: RtmpClientError): void {
    if (this.closed) return;
    // also reached from open()'s abort signal, before anyone holds the client
    this.closeError = err;
    this.close(err.message);
  }

  /**
   * Flushes what is queued and closes the connection (FIN), destroying it if the server has not
   * closed its side within the timeout.
   */
  end(reason = 'closed by client'): void {
    if (this.closed) return;
    this.close(reason, true);
  }

  override close(reason = 'closed by client', graceful = false): void {
    if (this.closed) return;
    if (graceful && !this.socket.destroyed) {
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), this.timeoutMs);
      t.unref();
      this.socket.once('close', () => clearTimeout(t));
    }
    super.close(reason);
    if (!graceful) this.socket.destroy();
  }

  protected override onClose(reason: string): void {
    for (const p of this.pending.values())
      p.reject(this.closeError ?? new RtmpClientError('RC_RTMP_CLOSED', reason));
    this.pending.clear();
    for (const w of this.statusWaiters.splice(0)) w({ level: 'closed', code: reason });
  }
}

function rejected(info: AmfValue | undefined): RtmpClientError {
  const o = (info && typeof info === 'object' && !Array.isArray(info) ? info : {}) as AmfObject;
  const code = String(o.code ?? '_error');
  const description = o.description === undefined ? '' : `: ${String(o.description)}`;
  return new RtmpClientError('RC_RTMP_REJECTED', `the server refused: ${code}${description}`);
}

function keepLast<T>(list: T[], value: T): void {
  list.push(value);
  if (list.length > KEEP_LAST) list.splice(0, list.length - KEEP_LAST);
}
