/**
 * One RTMP connection, server side: handshake, chunk stream, NetConnection/NetStream commands,
 * publish and play. Policy (who may publish, where a stream comes from) is injected by the role
 * through RtmpHandlers, so the same session serves origins (publish), edges (play) and the
 * all-in-one (both).
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AmfObject, AmfValue } from '../../media/amf/amf0.ts';
import { encodeAmf0 } from '../../media/amf/amf0.ts';
import { RTMP_OUT_CHUNK_SIZE } from '../../media/hub/output.ts';
import type { HubStream, Publication, PublicationEndReason } from '../../media/hub/stream.ts';
import type { Viewer } from '../../media/hub/viewer.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from '../../media/rtmp/chunk.ts';
import {
  connectResult,
  createStreamResult,
  decodeCommand,
  decodeDataMessage,
  errorResult,
  onStatus,
  sampleAccessMessage,
  simpleResult,
} from '../../media/rtmp/command.ts';
import { ServerHandshake } from '../../media/rtmp/handshake.ts';
import * as M from '../../media/rtmp/messages.ts';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../../media/tag.ts';
import { errorCode, RelaycastError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { validateAppName, validateStreamId } from '../names.ts';

/** Window acknowledgement size we announce (RTMP spec 5.4.4), as SRS and nginx-rtmp do. */
const WINDOW_ACK_SIZE = 2_500_000;

/**
 * Media held while a command is in flight (a publish being authorised, e.g. a Redis round trip).
 * Encoders send metadata and sequence headers right after `publish` without waiting for
 * NetStream.Publish.Start; dropping them would leave HLS and late joiners without SPS/PPS/ASC.
 * A few seconds of a high-bitrate stream fit; past either bound the connection is closed.
 */
export const PENDING_MEDIA_MAX_BYTES = 16 * 1024 * 1024;
export const PENDING_MEDIA_MAX_MESSAGES = 4096;

export interface PublishRequest {
  app: string;
  /** Stream name as sent (without query). With open auth this is the stream name; with keys, the key. */
  streamName: string;
  query: URLSearchParams;
  remote: string;
  tcUrl: string | undefined;
}

export interface PlayRequest {
  app: string;
  name: string;
  query: URLSearchParams;
  remote: string;
}

export interface RtmpHandlers {
  /** Resolve and authorise a publish; returns the publication to feed. Throw RelaycastError to refuse. */
  publish?(req: PublishRequest, onEnd: (reason: PublicationEndReason) => void): Promise<Publication>;
  /** Resolve and authorise a play; returns the stream to attach to. Throw RelaycastError to refuse. */
  play?(req: PlayRequest): Promise<HubStream>;
  /** Counters for rare events. */
  onProtocolError?(code: string): void;
}

export interface RtmpSessionOptions {
  handshakeTimeoutMs: number;
  idlePublisherTimeoutMs: number;
  maxMessageBytes: number;
  /** Largest Set Chunk Size a peer may announce. */
  maxChunkSize: number;
  /** AMF nesting depth and string length accepted in commands and metadata. */
  amfMaxDepth: number;
  amfMaxStringBytes: number;
  /** Bounds on media held while a command is in flight (defaults PENDING_MEDIA_MAX_*). */
  pendingMediaMaxBytes?: number;
  pendingMediaMaxMessages?: number;
}

function splitName(raw: string): { name: string; query: URLSearchParams } {
  const q = raw.indexOf('?');
  if (q < 0) return { name: raw, query: new URLSearchParams() };
  return { name: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
}

/** 'live', 'live/', 'live?vhost=x' → 'live' */
function normaliseApp(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  let app = raw;
  const q = app.indexOf('?');
  if (q >= 0) app = app.slice(0, q);
  return app.replace(/^\/+|\/+$/g, '');
}

export class RtmpSession {
  readonly id = randomUUID();
  readonly socket: Socket;
  readonly remote: string;
  private readonly log: Logger;
  private readonly handlers: RtmpHandlers;
  private readonly options: RtmpSessionOptions;
  private handshake: ServerHandshake | undefined = new ServerHandshake();
  private readonly reader: ChunkReader;
  private readonly writer = new ChunkWriter();
  private app = '';
  private tcUrl: string | undefined;
  private connected = false;
  private nextStreamId = 1;
  private peerWindowAckSize = 0;
  private lastAckSent = 0;
  private publication: Publication | undefined;
  private publishStreamId = 0;
  private viewer: { stream: HubStream; viewer: Viewer; streamId: number; name: string } | undefined;
  private lastMediaAt = 0;
  /** Handshake/connect deadline. */
  private timer: NodeJS.Timeout | undefined;
  /** Checks a publication for media; one per publication, cleared when it ends. */
  private idleTimer: NodeJS.Timeout | undefined;
  /** Commands queued or running; while > 0, media waits behind them (see PENDING_MEDIA_MAX_BYTES). */
  private commandsInFlight = 0;
  private pendingMediaMessages = 0;
  private pendingMediaBytes = 0;
  private closed = false;
  private readonly amfLimits: { maxDepth: number; maxStringBytes: number };
  /** Messages are processed strictly in order; publish/play resolve asynchronously. */
  private queue: Promise<void> = Promise.resolve();

  constructor(socket: Socket, handlers: RtmpHandlers, options: RtmpSessionOptions, log: Logger) {
    this.socket = socket;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.handlers = handlers;
    this.options = options;
    this.log = log.child({ session: this.id.slice(0, 8), remote: this.remote });
    this.reader = new ChunkReader({
      maxMessageBytes: options.maxMessageBytes,
      maxChunkSize: options.maxChunkSize,
    });
    this.amfLimits = { maxDepth: options.amfMaxDepth, maxStringBytes: options.amfMaxStringBytes };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'rtmp socket error'));
    socket.on('close', () => this.close('client closed'));
    this.timer = setTimeout(() => {
      if (!this.connected) this.fail(new RelaycastError('RC_BAD_REQUEST', 'handshake/connect timeout'));
    }, options.handshakeTimeoutMs);
    this.timer.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      let data: Buffer | undefined = chunk;
      if (this.handshake) {
        const step = this.handshake.push(chunk);
        if (step.reply) this.socket.write(step.reply);
        if (!step.done) return;
        this.handshake = undefined;
        data = step.rest;
        if (!data || data.length === 0) return;
      }
      const messages = this.reader.push(data);
      if (
        this.peerWindowAckSize > 0 &&
        this.reader.bytesReceived - this.lastAckSent >= this.peerWindowAckSize
      ) {
        this.lastAckSent = this.reader.bytesReceived;
        this.send(M.acknowledgementMessage(this.reader.bytesReceived >>> 0));
      }
      for (const msg of messages) this.onMessage(msg);
    } catch (err) {
      this.fail(err);
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.typeId) {
      case M.AUDIO:
      case M.VIDEO:
      case M.AGGREGATE:
      case M.DATA_AMF0:
      case M.DATA_AMF3:
        if (this.commandsInFlight > 0) this.holdMedia(msg);
        else this.onMedia(msg);
        return;
      case M.COMMAND_AMF0:
      case M.COMMAND_AMF3:
        this.commandsInFlight++;
        this.enqueue(async () => {
          try {
            await this.onCommand(msg);
          } finally {
            this.commandsInFlight--;
          }
        });
        return;
      case M.WINDOW_ACK_SIZE:
        this.peerWindowAckSize = M.parseUint32Payload(msg.payload);
        return;
      case M.USER_CONTROL: {
        const uc = M.parseUserControl(msg.payload);
        if (uc.event === M.PING_REQUEST) this.send(M.pingResponseMessage(uc.value));
        return;
      }
      default:
        // Set Chunk Size / Abort are applied by the reader; Ack, Set Peer Bandwidth and shared
        // objects need no action from a server.
        return;
    }
  }

  /** Queues media behind the commands in flight, in order, within the pending bounds. */
  private holdMedia(msg: RtmpMessage): void {
    const maxBytes = this.options.pendingMediaMaxBytes ?? PENDING_MEDIA_MAX_BYTES;
    const maxMessages = this.options.pendingMediaMaxMessages ?? PENDING_MEDIA_MAX_MESSAGES;
    this.pendingMediaMessages++;
    this.pendingMediaBytes += msg.payload.length;
    if (this.pendingMediaBytes > maxBytes || this.pendingMediaMessages > maxMessages) {
      throw new RelaycastError(
        'RC_PUBLISH_PENDING_LIMIT',
        `more than ${maxMessages} messages or ${maxBytes} bytes of media arrived before the publish was answered; send media after NetStream.Publish.Start`,
      );
    }
    this.enqueue(() => {
      this.pendingMediaMessages--;
      this.pendingMediaBytes -= msg.payload.length;
      if (!this.closed) this.onMedia(msg);
    });
  }

  private onMedia(msg: RtmpMessage): void {
    switch (msg.typeId) {
      case M.AUDIO:
      case M.VIDEO:
        // Media is accepted whatever its message stream id: some clients (node-media-server's
        // relay) send it on stream 0. A connection carries at most one publication.
        if (this.publication) {
          this.lastMediaAt = performance.now();
          this.publication.pushTag(
            msg.typeId === M.AUDIO ? TAG_AUDIO : TAG_VIDEO,
            msg.timestamp,
            msg.payload,
          );
        }
        return;
      case M.AGGREGATE:
        for (const sub of M.splitAggregate(msg)) this.onMedia(sub);
        return;
      default:
        this.onDataMessage(msg);
    }
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.queue = this.queue.then(task).catch((err: unknown) => this.fail(err));
  }

  private onDataMessage(msg: RtmpMessage): void {
    if (!this.publication) return;
    const values = decodeDataMessage(msg, this.amfLimits);
    // '@setDataFrame', 'onMetaData', {…} from encoders: store it as onMetaData (FLV spec E.5).
    if (values[0] === '@setDataFrame') values.shift();
    if (values[0] !== 'onMetaData') return;
    const meta = values[1];
    const body = encodeAmf0([
      'onMetaData',
      meta && typeof meta === 'object' && !Array.isArray(meta) && !(meta instanceof Date)
        ? { ...(meta as AmfObject), server: 'relaycast' }
        : (meta ?? null),
    ]);
    this.publication.pushTag(TAG_SCRIPT, msg.timestamp, body);
  }

  private async onCommand(msg: RtmpMessage): Promise<void> {
    if (this.closed) return;
    const cmd = decodeCommand(msg, this.amfLimits);
    const tx = cmd.transactionId;
    switch (cmd.name) {
      case 'connect': {
        const obj = (cmd.commandObject ?? {}) as AmfObject;
        this.app = normaliseApp(obj.app);
        this.tcUrl = typeof obj.tcUrl === 'string' ? obj.tcUrl : undefined;
        if (!this.app) {
          this.send(
            errorResult(tx, 'NetConnection.Connect.Rejected', 'connect needs an app, e.g. rtmp://host/live'),
          );
          return this.close('no app');
        }
        this.send(M.windowAckSizeMessage(WINDOW_ACK_SIZE));
        this.send(M.setPeerBandwidthMessage(WINDOW_ACK_SIZE, 2));
        this.send(M.setChunkSizeMessage(RTMP_OUT_CHUNK_SIZE));
        this.writer.chunkSize = RTMP_OUT_CHUNK_SIZE;
        const objectEncoding = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0;
        this.send(connectResult(tx, { objectEncoding }));
        this.connected = true;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.log.debug({ app: this.app, tcUrl: this.tcUrl }, 'rtmp connect');
        return;
      }
      case 'createStream': {
        const id = this.nextStreamId++;
        this.send(createStreamResult(tx, id));
        return;
      }
      case 'releaseStream':
      case 'FCPublish':
      case 'FCUnpublish':
        if (cmd.name === 'FCUnpublish') this.endPublish('unpublish');
        if (tx > 0) this.send(simpleResult(tx, undefined));
        return;
      case 'getStreamLength':
        if (tx > 0) this.send(simpleResult(tx, 0));
        return;
      case 'publish':
        return this.onPublish(msg.streamId, cmd.args);
      case 'play':
        return this.onPlay(msg.streamId, cmd.args);
      case 'pause':
        return this.onPause(msg.streamId, cmd.args);
      case 'seek':
        this.send(onStatus(msg.streamId, 'error', 'NetStream.Seek.Failed', 'Live streams cannot seek.'));
        return;
      case 'receiveAudio':
      case 'receiveVideo':
        return;
      case 'deleteStream':
      case 'closeStream': {
        const sid =
          cmd.name === 'deleteStream' && typeof cmd.args[0] === 'number' ? cmd.args[0] : msg.streamId;
        if (this.publication && sid === this.publishStreamId) this.endPublish('unpublish');
        if (this.viewer && sid === this.viewer.streamId) this.stopPlay();
        return;
      }
      default:
        if (tx > 0) this.send(errorResult(tx, 'NetConnection.Call.Failed', `unknown command ${cmd.name}`));
    }
  }

  private async onPublish(streamId: number, args: AmfValue[]): Promise<void> {
    const raw = typeof args[0] === 'string' ? args[0] : '';
    const { name: streamName, query } = splitName(raw);
    if (!this.connected || !streamName) {
      this.send(
        onStatus(
          streamId,
          'error',
          'NetStream.Publish.BadName',
          'publish needs a stream name (the stream key)',
        ),
      );
      return this.close('bad publish');
    }
    if (this.publication || this.viewer) {
      this.send(
        onStatus(
          streamId,
          'error',
          'NetStream.Publish.BadConnection',
          'this connection already publishes or plays',
        ),
      );
      return;
    }
    if (!this.handlers.publish) {
      this.send(
        onStatus(streamId, 'error', 'NetStream.Publish.Denied', 'this node does not accept publishers'),
      );
      return this.close('publish not served');
    }
    let pub: Publication;
    try {
      // the app reaches stream keys and --hls-dir paths; the stream name may be a secret key,
      // which the publish handler maps to a channel name it validates
      validateAppName(this.app);
      pub = await this.handlers.publish(
        { app: this.app, streamName, query, remote: this.remote, tcUrl: this.tcUrl },
        (reason) => this.onPublicationEnded(reason),
      );
    } catch (err) {
      const code = errorCode(err);
      const statusCode =
        code === 'RC_PUBLISH_KEY_INVALID' || code === 'RC_NAME_INVALID'
          ? 'NetStream.Publish.BadName'
          : 'NetStream.Publish.Denied';
      // the publish handler (the origin) logs the refusal once, naming the stream
      if (code === 'RC_NAME_INVALID') this.log.info({ code, err: (err as Error).message }, 'publish refused');
      else this.log.debug({ app: this.app, code }, 'publish handler refused the stream');
      this.send(onStatus(streamId, 'error', statusCode, `${(err as Error).message} (${code})`));
      // Give the client a moment to read the status before the socket goes.
      setTimeout(() => this.close('publish refused'), 100).unref();
      return;
    }
    if (this.closed) {
      pub.close('closed');
      return;
    }
    this.publication = pub;
    this.publishStreamId = streamId;
    this.lastMediaAt = performance.now();
    this.send(M.streamBeginMessage(streamId));
    this.send(
      onStatus(streamId, 'status', 'NetStream.Publish.Start', `${pub.stream.key} is now published.`, {
        details: pub.stream.name,
      }),
    );
    this.log.info({ stream: pub.stream.key }, 'publish started');
    if (this.options.idlePublisherTimeoutMs > 0) this.armIdleTimer();
  }

  private armIdleTimer(): void {
    this.disarmIdleTimer();
    const period = Math.max(250, Math.min(this.options.idlePublisherTimeoutMs / 4, 5000));
    this.idleTimer = setInterval(() => {
      if (!this.publication) return;
      if (performance.now() - this.lastMediaAt > this.options.idlePublisherTimeoutMs) {
        this.log.warn({ stream: this.publication.stream.key }, 'publisher sent no media: closing');
        this.endPublish('idle');
        this.close('idle publisher');
      }
    }, period);
    this.idleTimer.unref();
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** The hub ended our publication (takeover, kick, lost lease). */
  private onPublicationEnded(reason: PublicationEndReason): void {
    const pub = this.publication;
    this.publication = undefined;
    this.disarmIdleTimer();
    if (pub) this.log.info({ stream: pub.stream.key, reason }, 'publisher closed by server');
    this.send(
      onStatus(
        this.publishStreamId,
        'status',
        'NetStream.Unpublish.Success',
        `publishing stopped: ${reason}`,
      ),
    );
    this.close(`publication ended: ${reason}`);
  }

  private endPublish(reason: PublicationEndReason): void {
    const pub = this.publication;
    if (!pub) return;
    this.publication = undefined;
    this.disarmIdleTimer();
    pub.close(reason);
    this.log.info({ stream: pub.stream.key, reason }, 'publish stopped');
  }

  private async onPlay(streamId: number, args: AmfValue[]): Promise<void> {
    const raw = typeof args[0] === 'string' ? args[0] : '';
    const { name, query } = splitName(raw);
    if (!this.connected || !name) {
      this.send(onStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', 'play needs a stream name'));
      return;
    }
    if (!this.handlers.play) {
      this.send(onStatus(streamId, 'error', 'NetStream.Play.Failed', 'this node does not serve players'));
      return this.close('play not served');
    }
    if (this.viewer || this.publication) {
      this.send(
        onStatus(streamId, 'error', 'NetStream.Play.Failed', 'this connection already plays or publishes'),
      );
      return;
    }
    let stream: HubStream;
    try {
      validateStreamId(this.app, name);
      stream = await this.handlers.play({ app: this.app, name, query, remote: this.remote });
    } catch (err) {
      const code = errorCode(err);
      const status = code === 'RC_PLAY_NOT_FOUND' ? 'NetStream.Play.StreamNotFound' : 'NetStream.Play.Failed';
      this.send(onStatus(streamId, 'error', status, `${(err as Error).message} (${code})`));
      this.log.info({ app: this.app, name, code }, 'play refused');
      setTimeout(() => this.close('play refused'), 100).unref();
      return;
    }
    if (this.closed) return;
    this.send(M.streamBeginMessage(streamId));
    this.send(
      onStatus(streamId, 'status', 'NetStream.Play.Reset', `Playing and resetting ${name}.`, {
        details: name,
      }),
    );
    this.send(
      onStatus(streamId, 'status', 'NetStream.Play.Start', `Started playing ${name}.`, { details: name }),
    );
    this.send(sampleAccessMessage(streamId));
    this.attachViewer(stream, streamId, name);
  }

  private attachViewer(stream: HubStream, streamId: number, name: string): void {
    const socket = this.socket;
    const viewer = stream.addViewer(
      {
        write: (buf) => {
          if (!socket.destroyed) socket.write(buf);
        },
        get bufferedBytes() {
          return socket.writableLength;
        },
        close: (reason) => {
          if (this.viewer?.viewer !== viewer) return;
          this.viewer = undefined;
          if (reason === 'client-gone') return;
          this.send(
            onStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', `stream ended: ${reason}`),
          );
          this.close(`viewer closed: ${reason}`);
        },
      },
      { format: 'rtmp', protocol: 'rtmp', rtmpStreamId: streamId, remote: this.remote },
    );
    this.viewer = { stream, viewer, streamId, name };
  }

  private stopPlay(): void {
    const v = this.viewer;
    if (!v) return;
    this.viewer = undefined;
    v.viewer.close('client-gone');
  }

  private onPause(streamId: number, args: AmfValue[]): void {
    const pausing = args[0] === true;
    const v = this.viewer;
    if (pausing && v) {
      // Live: pausing detaches; unpausing restarts from the GOP cache (a clean keyframe start).
      this.stopPlay();
      this.pausedOn = { stream: v.stream, name: v.name };
      this.send(onStatus(streamId, 'status', 'NetStream.Pause.Notify', 'Paused live stream.'));
    } else if (!pausing && this.pausedOn) {
      const { stream, name } = this.pausedOn;
      this.pausedOn = undefined;
      this.send(onStatus(streamId, 'status', 'NetStream.Unpause.Notify', 'Unpaused live stream.'));
      if (!stream.closed) this.attachViewer(stream, streamId, name);
      else this.send(onStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', 'stream ended'));
    }
  }

  private pausedOn: { stream: HubStream; name: string } | undefined;

  private send(msg: RtmpMessage): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(this.writer.encode(msg));
  }

  private fail(err: unknown): void {
    const code = errorCode(err);
    this.handlers.onProtocolError?.(code);
    this.log.info({ code, err: (err as Error)?.message }, 'rtmp session error');
    this.close(code);
  }

  /** Ends the session; safe to call twice. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.disarmIdleTimer();
    this.endPublish(reason === 'client closed' ? 'disconnected' : reason === 'shutdown' ? 'closed' : 'error');
    this.stopPlay();
    this.log.debug({ reason }, 'rtmp session closed');
    if (!this.socket.destroyed) this.socket.end(() => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}
