/**
 * A small RTMP client for load tools (player and publisher), built on the repo's own RTMP code:
 * ClientHandshake (simple handshake), ChunkReader / ChunkWriter, the AMF0 command helpers and the
 * protocol control messages. One instance = one TCP connection. Every wait has a timeout.
 *
 *   const c = await RtmpClient.open('127.0.0.1', 1935);
 *   await c.connect('live');
 *   const sid = await c.createStream();
 *   c.onMedia = (msg) => …;            // types 8 (audio), 9 (video), 18 (data)
 *   await c.play(sid, 'bench');        // or: await c.publish(sid, 'bench'); c.sendMedia(…)
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import type { AmfObject, AmfValue } from '../media/amf/amf0.ts';
import { encodeAmf0 } from '../media/amf/amf0.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from '../media/rtmp/chunk.ts';
import { decodeCommand, encodeCommand } from '../media/rtmp/command.ts';
import { ClientHandshake } from '../media/rtmp/handshake.ts';
import * as M from '../media/rtmp/messages.ts';

/** Chunk stream ids a client uses (as ffmpeg does: commands on 3, play/publish on 8, media 4/6). */
const CSID_COMMAND = 3;
const CSID_STREAM = 8;
const CSID_AUDIO = 4;
const CSID_VIDEO = 6;
const CSID_DATA = 5;

const SET_DATA_FRAME = encodeAmf0(['@setDataFrame']);

export class RtmpClientError extends Error {}

interface Pending {
  resolve: (v: { name: string; args: AmfValue[] }) => void;
  reject: (e: Error) => void;
}

export class RtmpClient {
  readonly socket: Socket;
  /** Called for every audio (8), video (9) and data (18) message. */
  onMedia: ((msg: RtmpMessage) => void) | undefined;
  /** Called once when the connection ends (error = why, if it failed). */
  onClose: ((error: string | undefined) => void) | undefined;
  closed = false;
  closeReason: string | undefined;
  /** Bytes received from the server (handshake included). */
  bytesIn = 0;
  /** Every onStatus code received, in order. */
  readonly statusCodes: string[] = [];
  /** Sequence numbers of the server's Acknowledgements (RTMP spec 5.4.3), in order. */
  readonly acks: number[] = [];

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

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err.message));
    socket.on('close', () => this.fail('closed by server'));
  }

  /** TCP connect + RTMP handshake (simple). `onConnect` runs when TCP connects (to time it). */
  static open(
    host: string,
    port: number,
    options: { timeoutMs?: number; onConnect?: () => void; localAddress?: string } = {},
  ): Promise<RtmpClient> {
    const socket = tcpConnect({
      host,
      port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const client = new RtmpClient(socket);
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<RtmpClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close('handshake timeout');
        reject(new RtmpClientError('handshake timeout'));
      }, timeoutMs);
      timer.unref();
      client.onClose = (err) => {
        clearTimeout(timer);
        reject(new RtmpClientError(err ?? 'closed during handshake'));
      };
      client.handshakeDone = () => {
        clearTimeout(timer);
        client.onClose = undefined;
        resolve(client);
      };
      socket.once('connect', () => {
        options.onConnect?.();
        socket.write(client.handshake!.start());
      });
    });
  }

  /**
   * The handshake over a socket that is already connected (an in-memory fake socket in unit tests,
   * see core/testing/fake-net.ts).
   */
  static over(socket: Socket, timeoutMs = 10_000): Promise<RtmpClient> {
    const client = new RtmpClient(socket);
    return new Promise<RtmpClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close('handshake timeout');
        reject(new RtmpClientError('handshake timeout'));
      }, timeoutMs);
      timer.unref();
      client.onClose = (err) => {
        clearTimeout(timer);
        reject(new RtmpClientError(err ?? 'closed during handshake'));
      };
      client.handshakeDone = () => {
        clearTimeout(timer);
        client.onClose = undefined;
        resolve(client);
      };
      socket.write(client.handshake!.start());
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

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    try {
      let data: Buffer | undefined = chunk;
      if (this.handshake) {
        const step = this.handshake.push(chunk);
        if (step.reply) this.socket.write(step.reply);
        if (!step.done) return;
        this.handshake = undefined;
        this.handshakeDone?.();
        this.handshakeDone = undefined;
        data = step.rest;
        if (!data?.length) return;
      }
      const messages = this.reader.push(data);
      if (this.windowAckSize > 0 && this.reader.bytesReceived - this.lastAck >= this.windowAckSize) {
        this.lastAck = this.reader.bytesReceived;
        this.send(M.acknowledgementMessage(this.reader.bytesReceived >>> 0));
      }
      for (const msg of messages) this.onMessage(msg);
    } catch (err) {
      this.fail((err as Error).message);
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
        this.acks.push(M.parseUint32Payload(msg.payload));
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
          if (!p) return;
          this.pending.delete(cmd.transactionId);
          if (cmd.name === '_result') p.resolve({ name: cmd.name, args: cmd.args });
          else {
            const info = cmd.args[0] as AmfObject | undefined;
            p.reject(new RtmpClientError(`${info?.code ?? '_error'}: ${info?.description ?? ''}`));
          }
        } else if (cmd.name === 'onStatus') {
          const info = (cmd.args[0] ?? {}) as AmfObject;
          this.statusCodes.push(String(info.code ?? ''));
          for (const w of this.statusWaiters.splice(0)) w(info);
        }
        return;
      }
      default:
        // Set Chunk Size / Abort are applied by the reader; nothing else needs an answer.
        return;
    }
  }

  private send(msg: RtmpMessage): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(this.writer.encode(msg));
  }

  private call(name: string, obj: AmfObject | null, ...args: AmfValue[]): Promise<AmfValue[]> {
    const tx = this.nextTx++;
    return this.withTimeout(
      `${name} timeout`,
      new Promise<AmfValue[]>((resolve, reject) => {
        this.pending.set(tx, { resolve: (r) => resolve(r.args), reject });
        this.send(encodeCommand(CSID_COMMAND, 0, name, tx, obj, ...args));
      }),
    );
  }

  private withTimeout<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new RtmpClientError(what)), ms);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Waits for an onStatus with one of `okCodes` (one at level error, or the connection closing, rejects). */
  private status(okCodes: string[]): Promise<AmfObject> {
    return this.withTimeout(
      `waiting for ${okCodes[0]}`,
      new Promise<AmfObject>((resolve, reject) => {
        const wait = (info: AmfObject) => {
          const code = String(info.code ?? '');
          if (okCodes.includes(code)) resolve(info);
          else if (info.level === 'error') reject(new RtmpClientError(`${code}: ${info.description ?? ''}`));
          else this.statusWaiters.push(wait);
        };
        this.statusWaiters.push(wait);
      }),
    );
  }

  async connect(app: string, tcUrl?: string): Promise<void> {
    this.tcUrl =
      tcUrl ?? `rtmp://${this.socket.remoteAddress ?? '127.0.0.1'}:${this.socket.remotePort ?? 1935}/${app}`;
    await this.call('connect', {
      app,
      flashVer: 'LNX 9,0,124,2',
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
    if (typeof id !== 'number') throw new RtmpClientError('createStream: no stream id');
    return id;
  }

  async play(streamId: number, name: string): Promise<void> {
    const started = this.status(['NetStream.Play.Start']);
    this.send(encodeCommand(CSID_STREAM, streamId, 'play', this.nextTx++, null, name, -1000));
    await started;
  }

  /** publish <name> 'live'; resolves on NetStream.Publish.Start. */
  async publish(streamId: number, name: string): Promise<void> {
    const started = this.status(['NetStream.Publish.Start']);
    this.send(encodeCommand(CSID_STREAM, streamId, 'publish', this.nextTx++, null, name, 'live'));
    await started;
  }

  /** The two commands encoders send before createStream when publishing (answers are ignored). */
  announcePublish(name: string): void {
    for (const cmd of ['releaseStream', 'FCPublish'])
      this.send(encodeCommand(CSID_COMMAND, 0, cmd, this.nextTx++, null, name));
  }

  setChunkSize(size: number): void {
    this.send(M.setChunkSizeMessage(size));
    this.writer.chunkSize = size;
  }

  /**
   * Queues one FLV tag body as an RTMP message (audio 8, video 9, script 18 with @setDataFrame).
   * Returns the socket's backlog in bytes.
   */
  sendMedia(streamId: number, type: number, timestamp: number, body: Buffer): number {
    if (this.closed || this.socket.destroyed) return 0;
    const payload = type === M.DATA_AMF0 ? Buffer.concat([SET_DATA_FRAME, body]) : body;
    const csid = type === M.AUDIO ? CSID_AUDIO : type === M.VIDEO ? CSID_VIDEO : CSID_DATA;
    this.socket.write(this.writer.encode({ csid, typeId: type, streamId, timestamp, payload }));
    return this.socket.writableLength;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const p of this.pending.values()) p.reject(new RtmpClientError(reason));
    this.pending.clear();
    for (const w of this.statusWaiters.splice(0)) w({ level: 'error', code: 'closed', description: reason });
    this.onClose?.(reason);
  }

  close(reason = 'closed by client'): void {
    this.fail(reason);
    this.socket.destroy();
  }
}
