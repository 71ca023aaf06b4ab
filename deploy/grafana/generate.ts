/**
 * Writes the Grafana dashboards in this folder (overview, stream, node). Run after changing
 * panels: `node deploy/grafana/generate.ts`. A test checks the committed JSON matches this script
 * and that every query runs against a real Prometheus.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Panel {
  title: string;
  exprs: { expr: string; legend?: string }[];
  unit?: string;
  type?: 'timeseries' | 'stat';
  w?: number;
}

const DS = { type: 'prometheus', uid: '${datasource}' };

function dashboard(uid: string, title: string, panels: Panel[], variables: Record<string, unknown>[]): Record<string, unknown> {
  let x = 0;
  let y = 0;
  return {
    uid,
    title,
    tags: ['relaycast'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '10s',
    timezone: 'browser',
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        ...variables,
      ],
    },
    annotations: { list: [] },
    panels: panels.map((p, i) => {
      const w = p.w ?? (p.type === 'stat' ? 6 : 12);
      const h = p.type === 'stat' ? 4 : 8;
      if (x + w > 24) {
        x = 0;
        y += h;
      }
      const gridPos = { x, y, w, h };
      x += w;
      return {
        id: i + 1,
        type: p.type ?? 'timeseries',
        title: p.title,
        datasource: DS,
        gridPos,
        fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
        options: p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list', placement: 'bottom' } },
        targets: p.exprs.map((e, j) => ({ refId: String.fromCharCode(65 + j), datasource: DS, expr: e.expr, legendFormat: e.legend ?? '' })),
      };
    }),
  };
}

const queryVar = (name: string, label: string, query: string, multi = false) => ({
  name,
  label,
  type: 'query',
  datasource: DS,
  query: { query, refId: name },
  definition: query,
  refresh: 2,
  includeAll: multi,
  multi,
  current: {},
  hide: 0,
});

export const overview = dashboard(
  'relaycast-overview',
  'relaycast — cluster overview',
  [
    { title: 'Live streams', type: 'stat', exprs: [{ expr: 'relaycast:streams:sum' }] },
    { title: 'Viewers', type: 'stat', exprs: [{ expr: 'relaycast:viewers:sum' }] },
    { title: 'Nodes', type: 'stat', exprs: [{ expr: 'count(relaycast_build_info)' }] },
    { title: 'Egress', type: 'stat', unit: 'bps', exprs: [{ expr: 'sum(relaycast:egress_bits:rate1m)' }] },
    { title: 'Viewers by protocol', exprs: [{ expr: 'relaycast:viewers:sum_by_protocol', legend: '{{protocol}}' }] },
    { title: 'Egress by node', unit: 'bps', exprs: [{ expr: 'relaycast:egress_bits:rate1m', legend: '{{instance}}' }] },
    { title: 'Ingest by node', unit: 'bps', exprs: [{ expr: 'relaycast:ingest_bits:rate1m', legend: '{{instance}}' }] },
    { title: 'Nodes by role', exprs: [{ expr: 'count by (role) (relaycast_build_info)', legend: '{{role}}' }] },
    {
      title: 'Failovers, backup switches, takeovers (per minute)',
      exprs: [
        { expr: 'sum(rate(relaycast_failovers_total[5m])) * 60 or vector(0)', legend: 'edge failovers' },
        { expr: 'sum(rate(relaycast_backup_switches_total[5m])) * 60 or vector(0)', legend: 'backup switches' },
        { expr: 'sum(rate(relaycast_republish_takeovers_total[5m])) * 60', legend: 'republish takeovers' },
      ],
    },
    {
      title: 'Stream ends by reason (per minute)',
      exprs: [{ expr: 'sum by (reason) (rate(relaycast_stream_ends_total[5m])) * 60 or vector(0)', legend: '{{reason}}' }],
    },
    { title: 'Time to first frame p95', unit: 's', exprs: [{ expr: 'relaycast:viewer_ttff_seconds:p95_5m' }] },
    {
      title: 'Slow viewers (per minute)',
      exprs: [
        { expr: 'sum(rate(relaycast_viewer_skips_total[5m])) * 60 or vector(0)', legend: 'skips' },
        { expr: 'sum(rate(relaycast_viewer_drops_total[5m])) * 60 or vector(0)', legend: 'drops' },
      ],
    },
    {
      title: 'Auth failures (per minute)',
      exprs: [{ expr: 'sum by (surface) (rate(relaycast_auth_failures_total[5m])) * 60 or vector(0)', legend: '{{surface}}' }],
    },
    { title: 'Registry (Redis) up', exprs: [{ expr: 'min(relaycast_registry_up) or vector(1)', legend: 'up' }] },
    {
      title: 'Control plane: leader, edges reaching it',
      exprs: [
        { expr: 'sum(relaycast_control_plane_leader) or vector(0)', legend: 'leaders (want 1)' },
        { expr: 'sum(relaycast_control_plane_up) or vector(0)', legend: 'edges reaching it' },
      ],
    },
    {
      title: 'Control plane gRPC (per minute)',
      exprs: [{ expr: 'sum by (method) (rate(relaycast_grpc_requests_total[5m])) * 60 or vector(0)', legend: '{{method}}' }],
    },
    {
      title: 'Edge route lookups by source (per minute)',
      exprs: [
        { expr: 'sum by (source) (rate(relaycast_route_resolutions_total[5m])) * 60 or vector(0)', legend: '{{source}}' },
      ],
    },
  ],
  [],
);

export const stream = dashboard(
  'relaycast-stream',
  'relaycast — stream',
  [
    { title: 'Viewers', type: 'stat', exprs: [{ expr: 'sum(relaycast_viewers{stream=~"$stream"})' }] },
    { title: 'Bitrate', type: 'stat', unit: 'bps', exprs: [{ expr: 'max(relaycast_stream_bitrate_bits_per_second{stream=~"$stream"})' }] },
    { title: 'Frame rate', type: 'stat', exprs: [{ expr: 'max(relaycast_stream_frame_rate{stream=~"$stream"})' }] },
    { title: 'GOP cache', type: 'stat', unit: 'bytes', exprs: [{ expr: 'max(relaycast_gop_cache_bytes{stream=~"$stream"})' }] },
    { title: 'Viewers by protocol and node', exprs: [{ expr: 'sum by (protocol, instance) (relaycast_viewers{stream=~"$stream"})', legend: '{{protocol}} {{instance}}' }] },
    {
      title: 'Ingest and egress',
      unit: 'bps',
      exprs: [
        { expr: 'sum(rate(relaycast_ingest_bytes_total{stream=~"$stream"}[1m])) * 8', legend: 'ingest' },
        { expr: 'sum(rate(relaycast_egress_bytes_total{stream=~"$stream"}[1m])) * 8', legend: 'egress' },
      ],
    },
    { title: 'Frames per second by kind', exprs: [{ expr: 'sum by (kind) (rate(relaycast_frames_total{stream=~"$stream"}[1m]))', legend: '{{kind}}' }] },
    { title: 'HLS segments per minute', exprs: [{ expr: 'sum(rate(relaycast_hls_segments_total{stream=~"$stream"}[5m])) * 60' }] },
    {
      title: 'Channel source (MPEG-TS in): bitrate and errors',
      exprs: [
        { expr: 'sum(relaycast_source_bitrate_kbps{source=~"$stream"}) or vector(0)', legend: 'kbit/s' },
        { expr: 'sum(increase(relaycast_source_cc_errors{source=~"$stream"}[5m])) or vector(0)', legend: 'CC errors / 5 min' },
        { expr: 'sum(relaycast_source_state{source=~"$stream",state="silent"}) or vector(0)', legend: 'silent' },
      ],
    },
    {
      title: 'Forwards (restreaming): bitrate per destination',
      unit: 'bps',
      exprs: [{ expr: 'sum by (forward) (rate(relaycast_forward_bytes_total{stream=~"$stream"}[1m])) * 8 or vector(0)', legend: '{{forward}}' }],
    },
    {
      title: 'Forward reconnects and skips (per 5 min)',
      exprs: [
        { expr: 'sum by (forward, code) (increase(relaycast_forward_reconnects_total{stream=~"$stream"}[5m])) or vector(0)', legend: 'reconnects {{forward}} {{code}}' },
        { expr: 'sum by (forward) (increase(relaycast_forward_skips_total{stream=~"$stream"}[5m])) or vector(0)', legend: 'skips {{forward}}' },
      ],
    },
  ],
  [queryVar('stream', 'Stream', 'label_values(relaycast_publishers, stream)')],
);

export const node = dashboard(
  'relaycast-node',
  'relaycast — node',
  [
    { title: 'CPU (cores)', exprs: [{ expr: 'rate(relaycast_process_cpu_seconds_total{instance=~"$instance"}[1m])', legend: '{{instance}}' }] },
    { title: 'Resident memory', unit: 'bytes', exprs: [{ expr: 'relaycast_process_resident_memory_bytes{instance=~"$instance"}', legend: '{{instance}}' }] },
    {
      title: 'Event loop lag p99',
      unit: 's',
      exprs: [
        { expr: 'relaycast_nodejs_eventloop_lag_p99_seconds{instance=~"$instance"}', legend: '{{instance}} main' },
        { expr: 'relaycast_worker_eventloop_lag_p99_seconds{instance=~"$instance"}', legend: '{{instance}} worker {{worker}}' },
      ],
    },
    { title: 'Open connections', exprs: [{ expr: 'sum by (listener) (relaycast_connections{instance=~"$instance"})', legend: '{{listener}}' }] },
    { title: 'Viewers', exprs: [{ expr: 'sum by (protocol) (relaycast_viewers{instance=~"$instance"})', legend: '{{protocol}}' }] },
    { title: 'Egress', unit: 'bps', exprs: [{ expr: 'relaycast:egress_bits:rate1m{instance=~"$instance"}', legend: '{{instance}}' }] },
    {
      title: 'Edge pulls',
      exprs: [
        { expr: 'sum(relaycast_edge_pulls_active{instance=~"$instance"})', legend: 'active' },
        { expr: 'sum(rate(relaycast_edge_pulls_started_total{instance=~"$instance"}[5m])) * 60', legend: 'started / min' },
        { expr: 'sum(rate(relaycast_edge_pulls_failed_total{instance=~"$instance"}[5m])) * 60 or vector(0)', legend: 'failed / min' },
      ],
    },
    {
      title: 'HLS requests by cache result (per second)',
      exprs: [{ expr: 'sum by (result) (rate(relaycast_hls_requests_total{instance=~"$instance"}[1m])) or vector(0)', legend: '{{result}}' }],
    },
    {
      title: 'Registry lease renew p95',
      unit: 's',
      exprs: [
        {
          expr: 'histogram_quantile(0.95, sum by (le) (rate(relaycast_registry_lease_renew_seconds_bucket{instance=~"$instance"}[5m]))) or vector(0)',
        },
      ],
    },
    { title: 'RTMP protocol errors (per minute)', exprs: [{ expr: 'sum by (code) (rate(relaycast_rtmp_session_errors_total{instance=~"$instance"}[5m])) * 60 or vector(0)', legend: '{{code}}' }] },
  ],
  [queryVar('instance', 'Node', 'label_values(relaycast_build_info, instance)', true)],
);

if (process.argv[1] === import.meta.filename) {
  for (const [file, d] of [
    ['relaycast-overview.json', overview],
    ['relaycast-stream.json', stream],
    ['relaycast-node.json', node],
  ] as const)
    writeFileSync(join(import.meta.dirname, file), `${JSON.stringify(d, null, 2)}\n`);
}
