/**
 * Admin commands over gRPC: `relaycast channel …`, `relaycast stream …`, `relaycast node …`.
 * Human output by default, `--json` for scripts (one JSON document on stdout).
 */
import type { ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { type OptionTypes, parseCommandArgs, UsageError } from '../core/args.ts';
import { envName } from '../core/config.ts';
import { ControlPlaneApi, roleFromProto, roleToProto } from '../proto/client.ts';
import type { Channel__Output } from '../proto/gen/relaycast/v1/Channel.ts';
import type { ChannelForward__Output } from '../proto/gen/relaycast/v1/ChannelForward.ts';
import type { FailoverPolicy } from '../proto/gen/relaycast/v1/FailoverPolicy.ts';
import type { Node__Output } from '../proto/gen/relaycast/v1/Node.ts';
import type { StreamInfo__Output } from '../proto/gen/relaycast/v1/StreamInfo.ts';

type Flags = ReadonlyMap<string, string | true | string[]>;

const S = { type: 'string' } as const;
const B = { type: 'boolean' } as const;
const COMMON_OPTIONS = { 'control-plane': S, 'admin-token': S, json: B, timeout: S } as const;
const POLICY_OPTIONS = { 'auto-revert': S, 'revert-after': S, 'no-media-timeout': S } as const;

/** Each subcommand's flags (besides COMMON_OPTIONS) and how many words follow it. */
const COMMANDS: Record<string, Record<string, { options: OptionTypes; positionals: number }>> = {
  channel: {
    create: {
      options: {
        app: S,
        backup: B,
        source: S,
        'source-interface': S,
        'backup-source': S,
        'backup-source-interface': S,
        'hls-encryption': S,
        forward: { type: 'string', multiple: true },
        ...POLICY_OPTIONS,
      },
      positionals: 1,
    },
    list: { options: { app: S }, positionals: 0 },
    get: { options: { app: S }, positionals: 1 },
    delete: { options: { app: S }, positionals: 1 },
    'reset-key': { options: { app: S, backup: B }, positionals: 1 },
    backup: { options: { app: S, enable: B, disable: B, ...POLICY_OPTIONS }, positionals: 1 },
    forward: { options: { app: S }, positionals: 3 },
  },
  stream: {
    list: { options: { app: S }, positionals: 0 },
    get: { options: { app: S }, positionals: 1 },
    kick: { options: { app: S, role: S }, positionals: 1 },
    switch: { options: { app: S, to: S, reason: S, force: B }, positionals: 1 },
  },
  node: {
    list: { options: { role: S }, positionals: 0 },
    drain: { options: {}, positionals: 1 },
    undrain: { options: {}, positionals: 1 },
  },
};

const COMMON = `Common flags:
  --control-plane HOST:PORT   control plane gRPC address (env RELAYCAST_CONTROL_PLANE, default 127.0.0.1:50051)
  --admin-token T             admin token (env RELAYCAST_ADMIN_TOKEN)
  --json                      machine-readable output
  --timeout S                 seconds to wait for an answer (default 5)`;

export const CHANNEL_USAGE = `relaycast channel — channels and publish keys (admin over gRPC)

  relaycast channel create NAME [--app live] [--backup] [--auto-revert true|false]
                           [--revert-after S] [--no-media-timeout S]
                           [--source URL [--source-interface ADDR]]
                           [--backup-source URL [--backup-source-interface ADDR]]
                           [--hls-encryption none|aes-128]
                           [--forward rtmp://host/app/KEY]…
      prints the publish key (and backup key) once: put it in OBS as the stream key
      --source feeds the channel from MPEG-TS over UDP/RTP instead (in a cluster the control
      plane leader picks the origin that receives it, see --source-networks):
      udp://GROUP_OR_HOST:PORT[?source=IP&interface=ADDR&program=N] or rtp://…, or pulled from
      another server: http(s)://HOST/PATH.flv (HTTP-FLV), http(s)://HOST/PATH.m3u8 (HLS, MPEG-TS
      segments, best variant) or rtmp://HOST/APP/NAME (RTMP play); a pull that fails or goes
      quiet reconnects with backoff (1 s doubling to 30 s), counted in GET /api/v1/sources
      --backup-source: a second source, the channel's backup (viewers move to it when the primary
      stops or goes silent, and back; in a cluster)
      --hls-encryption overrides the nodes' --hls-encryption for this channel (keys go only to
      viewers with a signed URL, so edges need --play-secret)
  relaycast channel list [--app A]
  relaycast channel get NAME [--app live]
  relaycast channel delete NAME [--app live]          also disconnects its live publishers
  relaycast channel reset-key NAME [--app live] [--backup]
      issues a new key; the old one stops working and its publisher is disconnected
  relaycast channel backup NAME --enable|--disable [--auto-revert true|false]
                           [--revert-after S] [--no-media-timeout S]
  relaycast channel forward add NAME rtmp[s]://host[:port]/app/KEY [--app live]
  relaycast channel forward remove NAME ID [--app live]
  relaycast channel forward list NAME [--app live]
      restreaming: while the channel is live, the origin holding its active publisher pushes it
      to each destination too (YouTube, Twitch, another relaycast…); retried with backoff; keys
      are shown redacted

${COMMON}`;

export const STREAM_USAGE = `relaycast stream — live streams in the cluster (admin over gRPC)

  relaycast stream list [--app A]
  relaycast stream get APP/NAME
  relaycast stream kick APP/NAME [--role primary|backup]
  relaycast stream switch APP/NAME --to primary|backup [--reason R] [--force]
      viewers on edges follow without reconnecting

${COMMON}`;

export const NODE_USAGE = `relaycast node — cluster nodes (admin over gRPC)

  relaycast node list [--role origin|edge|control-plane]
  relaycast node drain NODE_ID     stop taking new publishers/viewers (readiness goes false;
                                   new ones get RC_NODE_DRAINING, current ones go on)
  relaycast node undrain NODE_ID   the inverse: take new publishers/viewers again

${COMMON}`;

function str(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function list(flags: Flags, name: string): string[] {
  const v = flags.get(name);
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function bool(flags: Flags, name: string): boolean | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`--${name} takes true or false, got '${v}'`);
}

function seconds(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} takes seconds (> 0), got '${v}'`);
  return Math.round(n * 1000);
}

function policy(flags: Flags): FailoverPolicy | undefined {
  const autoRevert = bool(flags, 'auto-revert');
  const revertAfterMs = seconds(flags, 'revert-after');
  const noMediaTimeoutMs = seconds(flags, 'no-media-timeout');
  if (autoRevert === undefined && revertAfterMs === undefined && noMediaTimeoutMs === undefined)
    return undefined;
  return {
    // proto3 has no presence for bools: an unset --auto-revert keeps the default (on)
    autoRevert: autoRevert ?? true,
    revertAfterMs: revertAfterMs ?? 0,
    noMediaTimeoutMs: noMediaTimeoutMs ?? 0,
  };
}

function streamRef(arg: string | undefined, flags: Flags): { app: string; name: string } {
  if (!arg) throw new UsageError('give the stream as APP/NAME, e.g. live/studio');
  const slash = arg.lastIndexOf('/');
  if (slash < 0) return { app: str(flags, 'app') ?? 'live', name: arg };
  return { app: arg.slice(0, slash), name: arg.slice(slash + 1) };
}

function channelRef(arg: string | undefined, flags: Flags): { app: string; name: string } {
  if (!arg) throw new UsageError('give the channel NAME');
  return streamRef(arg, flags);
}

function role(v: string | undefined, flag: string): 'primary' | 'backup' | undefined {
  if (v === undefined) return undefined;
  if (v === 'primary' || v === 'backup') return v;
  throw new UsageError(`--${flag} takes primary or backup, got '${v}'`);
}

const roleName = (r: string) => roleFromProto(r) ?? '-';
/** Times in --json output are ISO 8601 strings, as in the REST API; 0 (never) is null. */
const iso = (ms: number | string | undefined | null) => (ms ? new Date(Number(ms)).toISOString() : null);

function nodeJson(n: Node__Output) {
  const { startedAtMs, updatedAtMs, ...rest } = n;
  return { ...rest, startedAt: iso(startedAtMs), updatedAt: iso(updatedAtMs) };
}

/** `key: value` lines for human output of one object (nested objects indented). */
function describe(obj: Record<string, unknown>, indent = ''): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined || v === '') lines.push(`${indent}${k}: -`);
    else if (Array.isArray(v)) {
      lines.push(`${indent}${k}: ${v.length ? '' : '(none)'}`.trimEnd());
      for (const item of v)
        lines.push(
          typeof item === 'object' && item
            ? `${indent}  - ${describe(item as Record<string, unknown>, `${indent}    `).trimStart()}`
            : `${indent}  - ${String(item)}`,
        );
    } else if (typeof v === 'object')
      lines.push(`${indent}${k}:`, describe(v as Record<string, unknown>, `${indent}  `));
    else lines.push(`${indent}${k}: ${String(v)}`);
  }
  return lines.join('\n');
}

function sourceJson(src: Channel__Output['source']) {
  return src
    ? {
        url: src.url,
        interface: src.interface || null,
        state: src.state || null,
        bitrateKbps: src.bitrateKbps,
        ccErrors: src.ccErrors,
        packets: src.packets,
        lastPacketAt: iso(src.lastPacketMs),
        nodeId: src.nodeId || null,
      }
    : null;
}

function channelJson(c: Channel__Output) {
  return {
    app: c.app,
    name: c.name,
    hasBackup: c.hasBackup,
    activeRole: roleName(c.activeRole),
    createdAt: iso(c.createdAtMs),
    failover: c.failover,
    fromConfig: c.fromConfig,
    source: sourceJson(c.source),
    backupSource: sourceJson(c.backupSource),
    hlsEncryption: c.hlsEncryption || null,
    forwards: c.forwards.map(forwardJson),
  };
}

function forwardJson(f: ChannelForward__Output) {
  return {
    id: f.id,
    url: f.url,
    state: f.state,
    bytesSent: Number(f.bytesSent),
    reconnects: f.reconnects,
    skips: f.skips,
    lastError: f.lastError || null,
    nodeId: f.nodeId || null,
    role: roleFromProto(f.role) ?? null,
  };
}

const forwardRow = (f: ChannelForward__Output) => [
  f.id,
  f.state,
  f.url,
  `${(Number(f.bytesSent) / 1e6).toFixed(1)} MB`,
  String(f.reconnects),
  String(f.skips),
  f.nodeId || '-',
  f.lastError || '-',
];

/** SOURCE column of `channel list`: state, bitrate, CC errors and the age of the last packet. */
function sourceCell(c: Channel__Output): string {
  const one = (s: Channel__Output['source']) => {
    const age = s?.lastPacketMs
      ? `${Math.max(0, Math.round((Date.now() - Number(s.lastPacketMs)) / 1000))}s ago`
      : 'never';
    return `${s?.state || 'not received'}${s?.nodeId ? ` on ${s.nodeId}` : ''} ${s?.bitrateKbps} kb/s cc=${s?.ccErrors} last=${age} ${s?.url}`;
  };
  if (!c.source?.url) return c.backupSource?.url ? `backup: ${one(c.backupSource)}` : '-';
  return c.backupSource?.url ? `${one(c.source)} | backup: ${one(c.backupSource)}` : one(c.source);
}

function streamJson(s: StreamInfo__Output) {
  return {
    app: s.app,
    name: s.name,
    activeRole: roleName(s.activeRole),
    route: s.route ? { ...s.route, role: roleName(s.route.role) } : null,
    hasChannel: s.hasChannel,
    publishers: s.publishers.map((p) => ({ ...p, role: roleName(p.role) })),
    switches: s.switches.map((w) => ({
      at: iso(w.atMs),
      from: roleName(w.from),
      to: roleName(w.to),
      reason: w.reason,
      by: w.by,
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The RC_* code the control plane put in the error's metadata, else the gRPC status name. */
function grpcErrorCode(err: ServiceError): string {
  const fromServer = err.metadata?.get('rc-code')[0];
  return typeof fromServer === 'string' ? fromServer : `GRPC_${status[err.code] ?? err.code}`;
}

function describeGrpcError(err: ServiceError, target: string): string {
  if (err.code === status.UNAVAILABLE)
    return `cannot reach the control plane at ${target} (${err.details}); is it running? Pass --control-plane HOST:PORT or set ${envName('control-plane')}`;
  if (err.code === status.DEADLINE_EXCEEDED)
    return `the control plane at ${target} did not answer in time; check its logs, or raise --timeout`;
  if (err.code === status.UNAUTHENTICATED) return `${err.details} (UNAUTHENTICATED)`;
  return `${err.details} (${status[err.code] ?? err.code})`;
}

export async function runAdmin(
  group: 'channel' | 'stream' | 'node',
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const usage = group === 'channel' ? CHANNEL_USAGE : group === 'stream' ? STREAM_USAGE : NODE_USAGE;
  const wantsJson = args.includes('--json');
  const fail = (code: string, message: string, exitCode: number, showUsage = false): number => {
    if (wantsJson) console.log(JSON.stringify({ error: { code, message } }, null, 2));
    else console.error(`relaycast: ${message}${showUsage ? `\n\n${usage}` : ''}`);
    return exitCode;
  };
  const sub = args[0] && !args[0].startsWith('-') ? args[0] : undefined;
  if (!sub || sub === 'help') {
    const help = sub === 'help' || args.includes('--help') || args.includes('-h');
    if (!help && args.length)
      return fail('RC_BAD_REQUEST', `give a ${group} command first, e.g. 'relaycast ${group} list'`, 2, true);
    console.log(usage);
    return help ? 0 : 2;
  }
  const spec = COMMANDS[group]?.[sub];
  if (!spec) return fail('RC_BAD_REQUEST', `unknown command '${group} ${sub}'`, 2, true);
  let flags: Flags;
  let target: string | undefined;
  let positionals: string[] = [];
  try {
    const parsed = parseCommandArgs(
      args.slice(1),
      { ...COMMON_OPTIONS, ...spec.options },
      `${group} ${sub}`,
      spec.positionals,
    );
    flags = parsed.flags;
    positionals = parsed.positionals;
    target = parsed.positionals[0];
  } catch (err) {
    if (err instanceof UsageError) return fail('RC_BAD_REQUEST', err.message, 2);
    throw err;
  }
  if (flags.has('help')) {
    console.log(usage);
    return 0;
  }
  const address = str(flags, 'control-plane') ?? env[envName('control-plane')] ?? '127.0.0.1:50051';
  const token = str(flags, 'admin-token') ?? env[envName('admin-token')];
  const timeoutS = Number(str(flags, 'timeout') ?? 5);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0)
    return fail('RC_BAD_REQUEST', `--timeout takes seconds (> 0), got '${str(flags, 'timeout')}'`, 2);
  const json = flags.has('json');
  const api = new ControlPlaneApi(address, { token, timeoutMs: Math.max(100, timeoutS * 1000) });
  const print = (human: string, data: unknown) => console.log(json ? JSON.stringify(data, null, 2) : human);
  try {
    if (group === 'channel') {
      if (sub === 'create') {
        const ref = channelRef(target, flags);
        const p = policy(flags);
        const sourceUrl = str(flags, 'source');
        const sourceInterface = str(flags, 'source-interface');
        if (sourceInterface && !sourceUrl) throw new UsageError('--source-interface needs --source URL');
        const backupUrl = str(flags, 'backup-source');
        const backupInterface = str(flags, 'backup-source-interface');
        if (backupInterface && !backupUrl)
          throw new UsageError('--backup-source-interface needs --backup-source URL');
        const res = await api.call('CreateChannel', {
          ...ref,
          backup: flags.has('backup'),
          ...(p ? { failover: p } : {}),
          ...(sourceUrl ? { source: { url: sourceUrl, interface: sourceInterface ?? '' } } : {}),
          ...(backupUrl ? { backupSource: { url: backupUrl, interface: backupInterface ?? '' } } : {}),
          hlsEncryption: str(flags, 'hls-encryption') ?? '',
          forwards: list(flags, 'forward'),
        });
        print(
          [
            `channel ${ref.app}/${ref.name} created`,
            `  publish key:  ${res.key}`,
            ...(res.backupKey ? [`  backup key:   ${res.backupKey}`] : []),
            '  (keys are shown only now; OBS: server rtmp://ORIGIN:1935/' +
              ref.app +
              ', stream key = the key)',
          ].join('\n'),
          {
            app: ref.app,
            name: ref.name,
            key: res.key,
            backupKey: res.backupKey || null,
            ...(res.channel ? { channel: channelJson(res.channel) } : {}),
          },
        );
        return 0;
      }
      if (sub === 'list') {
        const res = await api.call('ListChannels', { app: str(flags, 'app') ?? '' });
        const rows = res.channels.map((c) => [
          `${c.app}/${c.name}`,
          c.hasBackup ? 'yes' : 'no',
          roleName(c.activeRole),
          c.failover ? `${c.failover.autoRevert ? 'on' : 'off'}/${c.failover.revertAfterMs / 1000}s` : '-',
          c.createdAtMs ? new Date(c.createdAtMs).toISOString() : '-',
          c.fromConfig ? 'config file' : 'api',
          sourceCell(c),
          c.forwards.length ? c.forwards.map((f) => `${f.id}:${f.state}`).join(',') : '-',
        ]);
        print(
          rows.length
            ? table([
                ['CHANNEL', 'BACKUP', 'ACTIVE', 'AUTO-REVERT', 'CREATED', 'FROM', 'SOURCE', 'FORWARDS'],
                ...rows,
              ])
            : 'no channels; create one with: relaycast channel create NAME',
          { channels: res.channels.map(channelJson) },
        );
        return 0;
      }
      if (sub === 'get') {
        const c = await api.call('GetChannel', channelRef(target, flags));
        print(describe(channelJson(c)), channelJson(c));
        return 0;
      }
      if (sub === 'forward') {
        const [action, name, arg] = positionals;
        const ref = channelRef(name, flags);
        if (action === 'add') {
          if (!arg) throw new UsageError('give the destination URL: rtmp://host/app/KEY or rtmps://…');
          const f = await api.call('AddForward', { ...ref, url: arg });
          print(`${ref.app}/${ref.name} forwards to ${f.url} (id ${f.id}) while it is live`, forwardJson(f));
          return 0;
        }
        if (action === 'remove') {
          if (!arg) throw new UsageError('give the forward ID (see relaycast channel forward list NAME)');
          await api.call('RemoveForward', { ...ref, id: arg });
          const id = arg.includes('://') ? null : arg;
          print(`forward ${id ?? '(by URL)'} of ${ref.app}/${ref.name} removed`, {
            ...ref,
            id,
            removed: true,
          });
          return 0;
        }
        if (action === 'list') {
          const c = await api.call('GetChannel', ref);
          print(
            c.forwards.length
              ? table([
                  ['ID', 'STATE', 'DESTINATION', 'SENT', 'RECONNECTS', 'SKIPS', 'NODE', 'LAST ERROR'],
                  ...c.forwards.map(forwardRow),
                ])
              : `${ref.app}/${ref.name} has no forwards; add one with: relaycast channel forward add ${ref.name} rtmp://host/app/KEY`,
            { forwards: c.forwards.map(forwardJson) },
          );
          return 0;
        }
        throw new UsageError(`'channel forward' takes add, remove or list, got '${action ?? ''}'`);
      }
      if (sub === 'delete') {
        const ref = channelRef(target, flags);
        const res = await api.call('DeleteChannel', ref);
        print(`channel ${ref.app}/${ref.name} deleted (${res.kicked} live publisher(s) disconnected)`, {
          ...ref,
          deleted: true,
          kicked: res.kicked,
        });
        return 0;
      }
      if (sub === 'reset-key') {
        const ref = channelRef(target, flags);
        const r = flags.has('backup') ? 'backup' : 'primary';
        const res = await api.call('ResetChannelKey', { ...ref, role: roleToProto(r) });
        print(
          `new ${r} key for ${ref.app}/${ref.name}: ${res.key}\n(${res.kicked} publisher(s) on the old key disconnected)`,
          { ...ref, role: r, key: res.key, kicked: res.kicked },
        );
        return 0;
      }
      if (sub === 'backup') {
        const ref = channelRef(target, flags);
        const enable = flags.has('enable');
        if (enable === flags.has('disable'))
          throw new UsageError('pass exactly one of --enable or --disable');
        const p = policy(flags);
        const res = await api.call('SetBackup', { ...ref, enabled: enable, ...(p ? { failover: p } : {}) });
        print(
          enable
            ? `backup ${res.backupKey ? `key for ${ref.app}/${ref.name}: ${res.backupKey}` : 'already enabled'}`
            : `backup of ${ref.app}/${ref.name} removed`,
          {
            ...ref,
            backupKey: res.backupKey || null,
            ...(res.channel ? { channel: channelJson(res.channel) } : {}),
          },
        );
        return 0;
      }
    } else if (group === 'stream') {
      if (sub === 'list') {
        const res = await api.call('ListStreams', { app: str(flags, 'app') ?? '' });
        const rows = res.streams.map((s) => {
          const active = s.publishers.find((p) => p.role === s.activeRole) ?? s.publishers[0];
          return [
            `${s.app}/${s.name}`,
            roleName(s.activeRole),
            s.publishers.map((p) => `${roleName(p.role)}${p.stalled ? '(stalled)' : ''}`).join(','),
            s.route?.originNodeId ?? '-',
            active?.codecs?.width ? `${active.codecs.width}x${active.codecs.height}` : '-',
            active ? `${active.bitrateKbps} kb/s` : '-',
            String(s.switches.length),
          ];
        });
        print(
          rows.length
            ? table([['STREAM', 'ACTIVE', 'PUBLISHERS', 'ORIGIN', 'SIZE', 'BITRATE', 'SWITCHES'], ...rows])
            : 'no live streams',
          { streams: res.streams.map(streamJson) },
        );
        return 0;
      }
      if (sub === 'get') {
        const s = await api.call('GetStream', streamRef(target, flags));
        print(describe(streamJson(s)), streamJson(s));
        return 0;
      }
      if (sub === 'kick') {
        const ref = streamRef(target, flags);
        const res = await api.call('KickStream', {
          ...ref,
          role: roleToProto(role(str(flags, 'role'), 'role')),
        });
        print(`${res.kicked} publisher(s) of ${ref.app}/${ref.name} told to disconnect`, {
          ...ref,
          kicked: res.kicked,
        });
        return 0;
      }
      if (sub === 'switch') {
        const ref = streamRef(target, flags);
        const to = role(str(flags, 'to'), 'to');
        if (!to) throw new UsageError('pass --to primary or --to backup');
        const res = await api.call('SwitchChannel', {
          ...ref,
          to: roleToProto(to),
          reason: str(flags, 'reason') ?? 'manual',
          force: flags.has('force'),
        });
        print(`${ref.app}/${ref.name} now plays its ${roleName(res.activeRole)} publisher`, {
          ...ref,
          activeRole: roleName(res.activeRole),
          route: res.route ? { ...res.route, role: roleName(res.route.role) } : null,
        });
        return 0;
      }
    } else {
      if (sub === 'list') {
        const res = await api.call('ListNodes', { role: str(flags, 'role') ?? '' });
        const rows = res.nodes.map((n) => [
          n.id,
          n.role + (n.leader ? ' (leader)' : ''),
          n.advertiseHost,
          String(n.load?.streams ?? 0),
          String(n.load?.viewers ?? 0),
          (n.load?.egressMbps ?? 0).toFixed(1),
          n.draining ? 'draining' : 'ok',
        ]);
        print(
          rows.length
            ? table([['NODE', 'ROLE', 'HOST', 'STREAMS', 'VIEWERS', 'EGRESS-MBPS', 'STATE'], ...rows])
            : 'no live nodes',
          { nodes: res.nodes.map(nodeJson) },
        );
        return 0;
      }
      if (sub === 'drain') {
        if (!target) throw new UsageError('give the NODE_ID (see relaycast node list)');
        await api.call('DrainNode', { nodeId: target });
        print(`node ${target} asked to drain`, { nodeId: target, accepted: true });
        return 0;
      }
      if (sub === 'undrain') {
        if (!target) throw new UsageError('give the NODE_ID (see relaycast node list)');
        await api.call('UndrainNode', { nodeId: target });
        print(`node ${target} asked to take new publishers and viewers again`, {
          nodeId: target,
          accepted: true,
        });
        return 0;
      }
    }
    throw new UsageError(`unknown command '${group} ${sub}'`);
  } catch (err) {
    if (err instanceof UsageError) return fail('RC_BAD_REQUEST', err.message, 2, true);
    const e = err as ServiceError;
    if (typeof e.code === 'number') return fail(grpcErrorCode(e), describeGrpcError(e, api.target), 1);
    throw err;
  } finally {
    api.close();
  }
}
