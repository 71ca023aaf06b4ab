/**
 * Prometheus metrics (prom-client). Every metric a process can export is declared here, once, so
 * names stay consistent with docs/metrics.md and the dashboards. Hot paths never touch prom-client:
 * per-stream figures are read from the hub's counters at scrape time (see hub-metrics.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'relaycast_';

/** Caps per-stream label values: the first `max` streams get their own, the rest share '_other'. */
export class StreamLabeler {
  private readonly max: number;
  private readonly known = new Set<string>();
  constructor(max: number) {
    this.max = max;
  }
  label(app: string, name: string): { app: string; stream: string } {
    const key = `${app}/${name}`;
    if (this.known.has(key)) return { app, stream: name };
    if (this.known.size < this.max) {
      this.known.add(key);
      return { app, stream: name };
    }
    return { app: '_other', stream: '_other' };
  }
  forget(app: string, name: string): void {
    this.known.delete(`${app}/${name}`);
  }
}

const SECONDS_BUCKETS_FAST = [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What the main thread alone reports for the node. A --workers thread's hub holds the streams it
 * relays from the main thread (a "pull" publisher each), so its own figures for these would be
 * added to the main thread's when /metrics merges them (sums per label set): every stream counted
 * twice or more in relaycast_streams, its bitrate doubled, each relay counted as an edge pull and
 * its bytes as ingest; and a metric the main thread left out (relaycast_control_plane_up on an edge
 * without --control-plane) would come back as 0 and fire RelaycastEdgeLostControlPlane. Workers
 * export what they do for their viewers: viewers, egress, first frames, skips, drops, rejects,
 * connections, HLS requests, their GOP caches' memory and their own event loop.
 */
export const MAIN_THREAD_METRICS = [
  'streams',
  'publishers',
  'ingest_bytes_total',
  'frames_total',
  'stream_bitrate_bits_per_second',
  'stream_frame_rate',
  'stream_ends_total',
  'republish_takeovers_total',
  'edge_pulls_active',
  'edge_pulls_started_total',
  'edge_pulls_failed_total',
  'edge_pull_connect_seconds',
  'failovers_total',
  'backup_switches_total',
  'hls_segments_total',
  'hls_segment_duration_seconds',
  'registry_up',
  'registry_lease_renew_seconds',
  'registry_errors_total',
  'grpc_requests_total',
  'grpc_request_duration_seconds',
  'route_resolutions_total',
  'control_plane_up',
  'control_plane_leader',
  'forwards',
  'forward_bytes_total',
  'forward_reconnects_total',
  'forward_skips_total',
  'webrtc_sessions',
  'webrtc_session_ends_total',
  'webrtc_packets_sent_total',
  'webrtc_bytes_sent_total',
  'webrtc_nacks_total',
  'webrtc_plis_total',
  'webrtc_rtt_seconds',
  'worker_viewers',
] as const;

/**
 * A worker thread's event loop and heap, labelled by worker: the lag a viewer's request can wait
 * behind (a segment burst, a GOP flush) shows per thread, as nodejs_eventloop_lag_* does for the
 * main thread. The lag histogram restarts at each scrape, so max is the worst since the last one.
 */
function workerThreadMetrics(registry: Registry, worker: string): void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // registered after the max gauge, whose collect() (run first, in registration order) sets it
  const p99 = new Gauge({
    name: `${METRIC_PREFIX}worker_eventloop_lag_p99_seconds`,
    help: '99th percentile event-loop delay of each --workers viewer thread since the previous scrape',
    labelNames: ['worker'],
    registers: [],
  });
  new Gauge({
    name: `${METRIC_PREFIX}worker_eventloop_lag_max_seconds`,
    help: 'Longest event-loop delay of each --workers viewer thread since the previous scrape',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      const seen = delay.count > 0;
      this.set({ worker }, seen ? delay.max / 1e9 : 0);
      p99.set({ worker }, seen ? delay.percentile(99) / 1e9 : 0);
      delay.reset();
    },
  });
  registry.registerMetric(p99);
  new Gauge({
    name: `${METRIC_PREFIX}worker_heap_used_bytes`,
    help: 'V8 heap in use by each --workers viewer thread (its own isolate; the process RSS counts it too)',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.set({ worker }, getHeapStatistics().used_heap_size);
    },
  });
}

export function createMetrics(options: {
  role: string;
  nodeId: string;
  version: string;
  maxStreams: number;
  /**
   * prom-client's process and Node.js metrics (CPU, RSS, heap, event loop lag). Off in a --workers
   * thread: its process figures are the whole process's, which the main thread already reports.
   */
  processMetrics?: boolean;
  /**
   * The --workers thread these metrics belong to: adds that thread's own event-loop lag and heap
   * (relaycast_worker_eventloop_lag_*, relaycast_worker_heap_used_bytes), which the process
   * metrics of the main thread do not see.
   */
  workerIndex?: number;
}) {
  const registry = new Registry();
  registry.setDefaultLabels({ role: options.role });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  if (options.workerIndex !== undefined) workerThreadMetrics(registry, String(options.workerIndex));
  // prom-client names these gauges *_total, which Prometheus reserves for counters
  // (promtool check metrics); the same figures exist without the suffix, by type.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  const r = [registry];
  const edgeLike = options.role === 'edge' || options.role === 'all';
  const metrics = {
    registry,
    streamLabels: new StreamLabeler(options.maxStreams),
    buildInfo: new Gauge({
      name: `${METRIC_PREFIX}build_info`,
      help: 'Always 1; labels carry the version and node id',
      labelNames: ['version', 'node'],
      aggregator: 'first', // --workers merges worker metrics by summing; this one stays 1
      registers: r,
    }),
    streams: new Gauge({
      name: `${METRIC_PREFIX}streams`,
      help: 'Streams with a publisher on this node',
      registers: r,
    }),
    publishers: new Gauge({
      name: `${METRIC_PREFIX}publishers`,
      help: 'Publishers by stream (1 while a publisher is attached)',
      labelNames: ['app', 'stream', 'source'],
      registers: r,
    }),
    viewers: new Gauge({
      name: `${METRIC_PREFIX}viewers`,
      help: 'Connected viewers by stream and protocol (HLS viewers are counted by active sessions)',
      labelNames: ['app', 'stream', 'protocol'],
      registers: r,
    }),
    ingestBytes: new Counter({
      name: `${METRIC_PREFIX}ingest_bytes_total`,
      help: 'Media bytes received from publishers (or from the origin, on edges)',
      labelNames: ['app', 'stream'],
      registers: r,
    }),
    egressBytes: new Counter({
      name: `${METRIC_PREFIX}egress_bytes_total`,
      help: 'Bytes sent to viewers',
      labelNames: ['app', 'stream', 'protocol'],
      registers: r,
    }),
    frames: new Counter({
      name: `${METRIC_PREFIX}frames_total`,
      help: 'Media frames received, by kind (video, audio, keyframe)',
      labelNames: ['app', 'stream', 'kind'],
      registers: r,
    }),
    bitrate: new Gauge({
      name: `${METRIC_PREFIX}stream_bitrate_bits_per_second`,
      help: 'Ingest bitrate of the stream over the last scrape interval',
      labelNames: ['app', 'stream'],
      registers: r,
    }),
    frameRate: new Gauge({
      name: `${METRIC_PREFIX}stream_frame_rate`,
      help: 'Video frames per second over the last scrape interval',
      labelNames: ['app', 'stream'],
      registers: r,
    }),
    gopCacheBytes: new Gauge({
      name: `${METRIC_PREFIX}gop_cache_bytes`,
      help: 'Bytes held in the GOP cache',
      labelNames: ['app', 'stream'],
      registers: r,
    }),
    timeToFirstFrame: new Histogram({
      name: `${METRIC_PREFIX}viewer_time_to_first_frame_seconds`,
      help: 'From viewer accepted to its first keyframe written',
      labelNames: ['protocol'],
      buckets: SECONDS_BUCKETS_FAST,
      registers: r,
    }),
    viewerSkips: new Counter({
      name: `${METRIC_PREFIX}viewer_skips_total`,
      help: 'Times a slow viewer was cut back to the next keyframe',
      labelNames: ['protocol'],
      registers: r,
    }),
    viewerDrops: new Counter({
      name: `${METRIC_PREFIX}viewer_drops_total`,
      help: 'Viewers disconnected by the server, by reason (slow, limit, kicked)',
      labelNames: ['protocol', 'reason'],
      registers: r,
    }),
    viewerRejects: new Counter({
      name: `${METRIC_PREFIX}viewer_rejects_total`,
      help: 'Play requests refused, by reason (not_found, limit, draining)',
      labelNames: ['protocol', 'reason'],
      registers: r,
    }),
    streamEnds: new Counter({
      name: `${METRIC_PREFIX}stream_ends_total`,
      help: 'Publishers that stopped, by reason (unpublish = clean; disconnected, idle, error = unexpected; takeover, kicked)',
      labelNames: ['reason'],
      registers: r,
    }),
    takeovers: new Counter({
      name: `${METRIC_PREFIX}republish_takeovers_total`,
      help: 'Publishes that replaced a lingering session of the same stream',
      registers: r,
    }),
    authFailures: new Counter({
      name: `${METRIC_PREFIX}auth_failures_total`,
      help: 'Refused authentications by surface (publish, play, admin, cluster) and reason code',
      labelNames: ['surface', 'reason'],
      registers: r,
    }),
    connections: new Gauge({
      name: `${METRIC_PREFIX}connections`,
      help: 'Open client connections by listener',
      labelNames: ['listener'],
      registers: r,
    }),
    rtmpErrors: new Counter({
      name: `${METRIC_PREFIX}rtmp_session_errors_total`,
      help: 'RTMP sessions closed because of a protocol error, by code',
      labelNames: ['code'],
      registers: r,
    }),
    pullsActive: new Gauge({
      name: `${METRIC_PREFIX}edge_pulls_active`,
      help: 'Origin pulls open on this edge',
      registers: r,
    }),
    pullsStarted: new Counter({
      name: `${METRIC_PREFIX}edge_pulls_started_total`,
      help: 'Origin pulls started',
      registers: r,
    }),
    pullsFailed: new Counter({
      name: `${METRIC_PREFIX}edge_pulls_failed_total`,
      help: 'Origin pulls that failed or broke, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    pullConnectSeconds: new Histogram({
      name: `${METRIC_PREFIX}edge_pull_connect_seconds`,
      help: 'From pull start to the first byte of media from the origin',
      buckets: SECONDS_BUCKETS_FAST,
      registers: r,
    }),
    failovers: new Counter({
      name: `${METRIC_PREFIX}failovers_total`,
      help: 'Edge pulls that moved to another origin or generation, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    backupSwitches: new Counter({
      name: `${METRIC_PREFIX}backup_switches_total`,
      help: 'Channel route switches between primary and backup, by target and reason',
      labelNames: ['to', 'reason'],
      registers: r,
    }),
    hlsSegments: new Counter({
      name: `${METRIC_PREFIX}hls_segments_total`,
      help: 'HLS segments produced',
      labelNames: ['app', 'stream'],
      registers: r,
    }),
    hlsSegmentDuration: new Histogram({
      name: `${METRIC_PREFIX}hls_segment_duration_seconds`,
      help: 'Duration of produced HLS segments',
      buckets: [0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 15],
      registers: r,
    }),
    hlsRequests: new Counter({
      name: `${METRIC_PREFIX}hls_requests_total`,
      help: 'HLS playlist and segment requests by kind and cache result (hit, miss, coalesced, local); key requests by outcome (ok, denied, not_found, rate_limited)',
      labelNames: ['kind', 'result'],
      registers: r,
    }),
    registryUp: new Gauge({
      name: `${METRIC_PREFIX}registry_up`,
      help: '1 when the registry (Redis) connection is up',
      registers: r,
    }),
    leaseRenewSeconds: new Histogram({
      name: `${METRIC_PREFIX}registry_lease_renew_seconds`,
      help: 'Latency of stream/node lease renewals',
      buckets: SECONDS_BUCKETS_FAST,
      registers: r,
    }),
    registryErrors: new Counter({
      name: `${METRIC_PREFIX}registry_errors_total`,
      help: 'Registry operations that failed, by operation',
      labelNames: ['op'],
      registers: r,
    }),
    grpcRequests: new Counter({
      name: `${METRIC_PREFIX}grpc_requests_total`,
      help: 'gRPC requests by method and status code',
      labelNames: ['method', 'code'],
      registers: r,
    }),
    grpcDuration: new Histogram({
      name: `${METRIC_PREFIX}grpc_request_duration_seconds`,
      help: 'gRPC unary request latency by method',
      labelNames: ['method'],
      buckets: SECONDS_BUCKETS_FAST,
      registers: r,
    }),
    routeResolutions: new Counter({
      name: `${METRIC_PREFIX}route_resolutions_total`,
      help: 'Edge route lookups by source: control-plane, or registry when the control plane was unreachable',
      labelNames: ['source'],
      registers: r,
    }),
    controlPlaneUp: new Gauge({
      name: `${METRIC_PREFIX}control_plane_up`,
      help: '1 while this edge reaches the control plane (edges started with --control-plane only)',
      registers: options.role === 'edge' ? r : [],
    }),
    forwards: new Gauge({
      name: `${METRIC_PREFIX}forwards`,
      help: 'Forwards (push destinations of channels) this node runs, by state',
      labelNames: ['state'],
      registers: options.role === 'origin' || options.role === 'all' ? r : [],
    }),
    forwardBytes: new Counter({
      name: `${METRIC_PREFIX}forward_bytes_total`,
      help: 'Bytes pushed to forward destinations, by stream and forward id',
      labelNames: ['app', 'stream', 'forward'],
      registers: options.role === 'origin' || options.role === 'all' ? r : [],
    }),
    forwardReconnects: new Counter({
      name: `${METRIC_PREFIX}forward_reconnects_total`,
      help: 'Forward connection attempts after a failure, by stream, forward id and error code',
      labelNames: ['app', 'stream', 'forward', 'code'],
      registers: options.role === 'origin' || options.role === 'all' ? r : [],
    }),
    forwardSkips: new Counter({
      name: `${METRIC_PREFIX}forward_skips_total`,
      help: 'Times a forward destination fell behind and frames were dropped to the next keyframe',
      labelNames: ['app', 'stream', 'forward'],
      registers: options.role === 'origin' || options.role === 'all' ? r : [],
    }),
    workerViewers: new Gauge({
      name: `${METRIC_PREFIX}worker_viewers`,
      help: 'HTTP viewers on each --workers viewer thread, as it last reported (the kernel spreads new connections; an uneven split shows here)',
      labelNames: ['worker'],
      registers: edgeLike ? r : [],
    }),
    webrtcSessions: new Gauge({
      name: `${METRIC_PREFIX}webrtc_sessions`,
      help: 'WHEP sessions on this node, from POST until DELETE, ICE timeout or the stream ending',
      registers: edgeLike ? r : [],
    }),
    webrtcSessionEnds: new Counter({
      name: `${METRIC_PREFIX}webrtc_session_ends_total`,
      help: 'WHEP sessions that ended, by reason (deleted, ice-timeout, ice-failed, stream-ended, kicked, shutdown)',
      labelNames: ['reason'],
      registers: edgeLike ? r : [],
    }),
    webrtcPackets: new Counter({
      name: `${METRIC_PREFIX}webrtc_packets_sent_total`,
      help: 'RTP packets sent to WebRTC viewers, by kind (video, audio)',
      labelNames: ['kind'],
      registers: edgeLike ? r : [],
    }),
    webrtcBytes: new Counter({
      name: `${METRIC_PREFIX}webrtc_bytes_sent_total`,
      help: 'RTP payload bytes sent to WebRTC viewers, by kind (video, audio)',
      labelNames: ['kind'],
      registers: edgeLike ? r : [],
    }),
    webrtcNacks: new Counter({
      name: `${METRIC_PREFIX}webrtc_nacks_total`,
      help: 'RTCP generic NACKs received from WebRTC viewers (answered from a short packet history)',
      registers: edgeLike ? r : [],
    }),
    webrtcPlis: new Counter({
      name: `${METRIC_PREFIX}webrtc_plis_total`,
      help: 'RTCP picture loss indications (PLI/FIR) from WebRTC viewers (answered from the next keyframe)',
      registers: edgeLike ? r : [],
    }),
    webrtcRtt: new Histogram({
      name: `${METRIC_PREFIX}webrtc_rtt_seconds`,
      help: 'Round-trip time to WebRTC viewers from RTCP receiver reports',
      buckets: SECONDS_BUCKETS_FAST,
      registers: edgeLike ? r : [],
    }),
    leader: new Gauge({
      name: `${METRIC_PREFIX}control_plane_leader`,
      help: '1 on the control plane replica that currently holds leadership',
      // only control plane processes export it: elsewhere a 0 would read as "no leader"
      registers: options.role === 'control-plane' || options.role === 'all' ? r : [],
    }),
  };
  metrics.buildInfo.set({ version: options.version, node: options.nodeId }, 1);
  if (options.workerIndex !== undefined)
    for (const name of MAIN_THREAD_METRICS) registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
