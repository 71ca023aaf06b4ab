/**
 * One WHEP viewer (media/lifecycle.ts): a werift RTCPeerConnection that answers the browser's
 * offer as an ICE-lite, send-only peer, plus a hub Viewer so the stream counts it (viewer limits,
 * kicks, drain, the edge's idle pull teardown) exactly like an HTTP-FLV or RTMP viewer.
 *
 * Media comes from the stream's shared WebRtcFeed: the session starts on the cached GOP (its
 * frames squeezed to consecutive RTP ticks so the browser decodes them at once and shows the
 * newest), then follows live frames with its own sequence numbers and timestamp base. werift keeps
 * a 128-packet history per sender and answers NACKs from it; a PLI or FIR makes the session skip
 * to the next keyframe, which carries SPS+PPS.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpSender,
  type RTCRtpTransceiver,
  RtcpPayloadSpecificFeedback,
} from 'werift';
import type { HubStream } from '../../media/hub/stream.ts';
import type { Viewer, ViewerCloseReason } from '../../media/hub/viewer.ts';
import { Lifecycle } from '../../media/lifecycle.ts';
import { H264_CLOCK_HZ } from '../../media/rtp/h264.ts';
import type { AudioPacket, FeedSubscriber, VideoFrame, WebRtcFeed } from './feed.ts';
import { srtpSessionsOf, useKeyObjects } from './srtp-keys.ts';
import type { SessionTransport } from './udp-mux.ts';

export type SessionEndReason =
  | 'deleted'
  | 'ice-timeout'
  | 'ice-failed'
  | 'viewer-gone'
  | 'stream-ended'
  | 'kicked'
  | 'unsupported'
  | 'shutdown';

/** Counters the WHEP server sums into Prometheus once a second (never per packet). */
export interface SessionTotals {
  videoPackets: number;
  videoBytes: number;
  audioPackets: number;
  audioBytes: number;
  nacks: number;
  plis: number;
}

export interface SessionOptions {
  /** ICE and DTLS must complete within this, or the session ends with 'ice-timeout'. */
  connectTimeoutMs: number;
  /** A connected viewer that sends no RTCP for this long is gone (closed tab, lost network). */
  silenceTimeoutMs: number;
  /** Extra host addresses werift should offer as candidates (the UDP mux's loopback). */
  iceAdditionalHostAddresses?: string[];
  /** Restrict werift's candidate gathering to these interfaces' addresses. */
  iceInterfaceAddresses?: { udp4?: string };
}

/** PLIs within this long after a keyframe was sent are about that keyframe still in flight. */
const PLI_GRACE_MS = 1000;

/** RFC 6184 / RFC 7587 codecs we answer with; rtcp-fb per RFC 4585 (nack, pli) and 5104 (fir). */
export function webrtcCodecs() {
  return {
    video: [
      new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: H264_CLOCK_HZ,
        rtcpFeedback: [
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
        ],
        parameters: 'packetization-mode=1',
      }),
    ],
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
  };
}

export class WhepSession extends Lifecycle<SessionEndReason> implements FeedSubscriber {
  readonly id = randomBytes(12).toString('hex');
  readonly stream: HubStream;
  readonly createdAt = Date.now();
  readonly pc: RTCPeerConnection;
  private readonly feed: WebRtcFeed;
  private readonly totals: SessionTotals;
  private readonly options: SessionOptions;
  private viewer: Viewer | undefined;
  private video: RTCRtpSender | undefined;
  private audio: RTCRtpSender | undefined;
  private connected = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private lastRtcpAt = 0;
  // Video RTP state: random starts (RFC 3550 5.1), a base that maps stream ms to 90 kHz ticks.
  private videoSeq = randomInt(0, 0x10000);
  private videoTsBase = randomInt(0, 0x100000000);
  private videoAnchorMs: number | undefined;
  private waitKeyframe = false;
  private lastKeyframeSentAt = 0;
  private audioSeq = randomInt(0, 0x10000);
  private readonly audioTsBase = randomInt(0, 0x100000000);
  /** Last RTT from receiver reports, for the metrics timer. */
  rttSeconds: number | undefined;

  constructor(stream: HubStream, feed: WebRtcFeed, totals: SessionTotals, options: SessionOptions) {
    super();
    this.stream = stream;
    this.feed = feed;
    this.totals = totals;
    this.options = options;
    this.pc = new RTCPeerConnection({
      iceLite: true,
      // werift's default asks stun.l.google.com for a reflexive address: a server knows its own
      // (--webrtc-public-ip), and where nothing is reachable that query only delays the answer.
      iceServers: [],
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
      codecs: webrtcCodecs(),
      ...(options.iceAdditionalHostAddresses
        ? { iceAdditionalHostAddresses: options.iceAdditionalHostAddresses }
        : {}),
      ...(options.iceInterfaceAddresses ? { iceInterfaceAddresses: options.iceInterfaceAddresses } : {}),
    });
  }

  /**
   * werift's UDP transports of this session's ICE, for the node's shared port to drive (udp-mux.ts).
   * werift has no API for this: RTCPeerConnection.iceTransports[].connection.protocols[].transport
   * (werift 0.25); an empty list (a werift that moved them) makes the session fail with that said.
   */
  iceUdpTransports(): SessionTransport[] {
    const out: SessionTransport[] = [];
    const ice = (this.pc as unknown as { iceTransports?: unknown[] }).iceTransports ?? [];
    for (const t of ice) {
      const protocols = (t as { connection?: { protocols?: unknown[] } })?.connection?.protocols ?? [];
      for (const p of protocols) {
        const transport = (p as { transport?: Partial<SessionTransport> & { type?: string } })?.transport;
        if (
          transport?.type === 'udp' &&
          typeof transport.send === 'function' &&
          typeof transport.port === 'number'
        )
          out.push(transport as SessionTransport);
      }
    }
    return out;
  }

  /** The SDP answer (with our ICE candidates) to the browser's offer. */
  async answer(offer: string): Promise<string> {
    this.assertOpen(`WHEP session ${this.id}`);
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    for (const t of this.pc.getTransceivers()) this.configureTransceiver(t);
    if (!this.video) throw new Error('the offer has no video section we can send to');
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.gathered();
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('werift produced no local description');
    this.pc.connectionStateChange.subscribe((state) => this.onConnectionState(state));
    this.connectTimer = setTimeout(() => {
      if (!this.connected) this.close('ice-timeout');
    }, this.options.connectTimeoutMs);
    this.connectTimer.unref();
    return sdp;
  }

  private configureTransceiver(t: RTCRtpTransceiver): void {
    // The browser offers recvonly; we send only, one track per kind.
    if (t.kind === 'video' && !this.video) {
      t.setDirection('sendonly');
      this.video = t.sender;
      t.sender.onPictureLossIndication.subscribe(() => this.onPictureLoss());
      t.sender.onGenericNack.subscribe(() => {
        this.totals.nacks++;
      });
      t.sender.onRtcp.subscribe((rtcp) => {
        this.lastRtcpAt = Date.now();
        // RFC 5104 4.3.1: FIR (PSFB FMT 4); werift reports PLI itself but not FIR
        if (rtcp instanceof RtcpPayloadSpecificFeedback && rtcp.feedback.count === 4) this.onPictureLoss();
        // werift keeps the receiver-report RTT (RFC 3550 6.4.1) private; read it without a copy
        const rtt = (t.sender as unknown as { rtt?: number }).rtt;
        if (rtt !== undefined) this.rttSeconds = rtt;
      });
    } else if (t.kind === 'audio' && !this.audio) {
      t.setDirection('sendonly');
      this.audio = t.sender;
      t.sender.onRtcp.subscribe(() => {
        this.lastRtcpAt = Date.now();
      });
    } else t.setDirection('inactive');
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 3000);
      timer.unref();
      this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Joins the hub as a viewer (counted, kickable) before the answer goes out. */
  attachViewer(remote: string | undefined): void {
    this.viewer = this.stream.addViewer(
      {
        write() {
          /* media goes out over RTP from the feed; the FLV bytes are not needed */
        },
        bufferedBytes: 0,
        close: (reason: ViewerCloseReason) => {
          if (reason === 'client-gone') return;
          this.close(reason === 'kicked' ? 'kicked' : reason === 'shutdown' ? 'shutdown' : 'stream-ended');
        },
      },
      { format: 'flv', protocol: 'webrtc', remote },
    );
  }

  private onConnectionState(state: string): void {
    if (this.closed) return;
    if (state === 'connected' && !this.connected) {
      this.connected = true;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      // DTLS is up and werift made its SRTP contexts: per-packet encryption with KeyObjects
      useKeyObjects(srtpSessionsOf(this.pc));
      this.lastRtcpAt = Date.now();
      this.silenceTimer = setInterval(() => {
        if (Date.now() - this.lastRtcpAt > this.options.silenceTimeoutMs) this.close('viewer-gone');
      }, 1000);
      this.silenceTimer.unref();
      this.feed.subscribe(this);
    } else if (state === 'failed' || state === 'closed') {
      this.close(this.connected ? 'viewer-gone' : 'ice-failed');
    }
  }

  private onPictureLoss(): void {
    this.totals.plis++;
    if (Date.now() - this.lastKeyframeSentAt < PLI_GRACE_MS) return;
    this.waitKeyframe = true;
  }

  /** The GOP on join: decoded at once, the newest frame shown; live frames follow on real time. */
  onJoin(frames: readonly VideoFrame[]): void {
    const last = frames[frames.length - 1];
    if (!last) {
      this.waitKeyframe = true;
      return;
    }
    this.videoAnchorMs = last.ptsMs;
    for (let i = 0; i < frames.length; i++) {
      const squeeze = frames.length - 1 - i; // ticks before the newest frame
      this.sendVideo(frames[i]!, (this.videoTsBase - squeeze) >>> 0);
    }
  }

  onVideo(frame: VideoFrame): void {
    if (this.waitKeyframe) {
      if (!frame.keyframe) return;
      this.waitKeyframe = false;
    }
    if (this.videoAnchorMs === undefined) this.videoAnchorMs = frame.ptsMs;
    const ticks = Math.round((frame.ptsMs - this.videoAnchorMs) * (H264_CLOCK_HZ / 1000));
    this.sendVideo(frame, (this.videoTsBase + ticks) >>> 0);
  }

  private sendVideo(frame: VideoFrame, timestamp: number): void {
    const sender = this.video;
    if (!sender || this.closed) return;
    if (frame.keyframe) this.lastKeyframeSentAt = Date.now();
    for (const packet of frame.packets) {
      // werift clones the packet synchronously inside sendRtp, so the shared header can be
      // restamped for the next session right after.
      packet.header.sequenceNumber = this.videoSeq;
      packet.header.timestamp = timestamp;
      this.videoSeq = (this.videoSeq + 1) & 0xffff;
      void sender.sendRtp(packet).catch(() => {
        /* DTLS went away; the connection state handler closes the session */
      });
    }
    this.totals.videoPackets += frame.packets.length;
    this.totals.videoBytes += frame.bytes;
  }

  onAudio(audio: AudioPacket): void {
    const sender = this.audio;
    if (!sender || this.closed) return;
    audio.packet.header.sequenceNumber = this.audioSeq;
    audio.packet.header.timestamp = (this.audioTsBase + audio.samples) >>> 0;
    audio.packet.header.marker = false;
    this.audioSeq = (this.audioSeq + 1) & 0xffff;
    void sender.sendRtp(audio.packet).catch(() => {});
    this.totals.audioPackets++;
    this.totals.audioBytes += audio.packet.payload.length;
  }

  onUnsupported(): void {
    this.close('unsupported');
  }

  get isConnected(): boolean {
    return this.connected;
  }

  protected override onClose(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.feed.unsubscribe(this);
    this.viewer?.close('client-gone');
    void this.pc.close().catch(() => {});
  }
}
