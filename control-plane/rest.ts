/**
 * The control plane's REST admin API on the admin port (same operations as gRPC, for curl and
 * scripts). Every route needs the admin token when one is set (AdminHttpServer enforces it).
 *
 *   GET    /api/v1/channels                         list
 *   POST   /api/v1/channels                         {name, app?, backup?, failover?, source?, backupSource?, hlsEncryption?, forwards?} → key (once)
 *   GET    /api/v1/channels/:app/:name
 *   DELETE /api/v1/channels/:app/:name              deletes, kicks live publishers
 *   POST   /api/v1/channels/:app/:name/reset-key    {role?} → new key, kicks
 *   PUT    /api/v1/channels/:app/:name/backup       {enabled, failover?}
 *   POST   /api/v1/channels/:app/:name/switch       {to: primary|backup, reason?, force?}
 *   GET    /api/v1/channels/:app/:name/forwards     push destinations (keys redacted) and their state
 *   POST   /api/v1/channels/:app/:name/forwards     {url} → the new forward (201)
 *   DELETE /api/v1/channels/:app/:name/forwards/:id
 *   GET    /api/v1/cluster/streams[?app=]           live streams cluster-wide with switch history
 *   GET    /api/v1/cluster/streams/:app/:name
 *   POST   /api/v1/cluster/streams/:app/:name/kick  {role?}
 *   GET    /api/v1/nodes[?role=]
 *   POST   /api/v1/nodes/:id/drain
 *   POST   /api/v1/nodes/:id/undrain
 *
 * Times in bodies are ISO 8601 strings (as in the CLI's --json), see AdminHttpServer.
 */
import type { AdminHttpServer } from '../core/admin-http.ts';
import { RelaycastError } from '../core/errors.ts';
import type { PublisherRole } from '../core/registry/types.ts';
import type { ControlService, FailoverPolicy } from './service.ts';

function obj(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new RelaycastError('RC_BAD_REQUEST', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** {url, interfaceAddress?} of a channel source in a request body, or undefined when absent. */
function optSource(v: unknown, field: string): { url: string; interfaceAddress?: string } | undefined {
  if (v === undefined) return undefined;
  const src = obj(v);
  if (typeof src.url !== 'string' || !src.url)
    throw new RelaycastError(
      'RC_BAD_REQUEST',
      `${field}.url is required when ${field} is given, e.g. udp://239.1.1.1:5000`,
    );
  if (src.interfaceAddress !== undefined && typeof src.interfaceAddress !== 'string')
    throw new RelaycastError('RC_BAD_REQUEST', `${field}.interfaceAddress must be a string (an IP address)`);
  return { url: src.url, ...(src.interfaceAddress ? { interfaceAddress: src.interfaceAddress } : {}) };
}

function strings(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new RelaycastError('RC_BAD_REQUEST', `${field} must be a list of strings`);
  return v as string[];
}

function optRole(v: unknown, field: string): PublisherRole | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (v === 'primary' || v === 'backup') return v;
  throw new RelaycastError('RC_BAD_REQUEST', `${field} must be "primary" or "backup"`);
}

function optPolicy(v: unknown): Partial<FailoverPolicy> | undefined {
  if (v === undefined || v === null) return undefined;
  const p = obj(v);
  const out: Partial<FailoverPolicy> = {};
  if (p.autoRevert !== undefined) {
    if (typeof p.autoRevert !== 'boolean')
      throw new RelaycastError('RC_BAD_REQUEST', 'failover.autoRevert must be true or false');
    out.autoRevert = p.autoRevert;
  }
  for (const k of ['revertAfterMs', 'noMediaTimeoutMs'] as const) {
    if (p[k] === undefined) continue;
    if (typeof p[k] !== 'number')
      throw new RelaycastError('RC_BAD_REQUEST', `failover.${k} must be a number`);
    out[k] = p[k];
  }
  return out;
}

export function registerControlRoutes(admin: AdminHttpServer, s: ControlService): void {
  admin.route('GET', '/api/v1/channels', async ({ query }) => ({
    body: { channels: await s.listChannels(query.get('app') ?? undefined) },
  }));
  admin.route('POST', '/api/v1/channels', async ({ body }) => {
    const b = obj(await body());
    if (typeof b.name !== 'string' || !b.name)
      throw new RelaycastError('RC_BAD_REQUEST', 'name (the public channel name) is required');
    const policy = optPolicy(b.failover);
    const source = optSource(b.source, 'source');
    const backupSource = optSource(b.backupSource, 'backupSource');
    const res = await s.createChannel(typeof b.app === 'string' && b.app ? b.app : 'live', b.name, {
      backup: b.backup === true,
      ...(policy ? { failover: policy } : {}),
      ...(source ? { source } : {}),
      ...(backupSource ? { backupSource } : {}),
      ...(b.hlsEncryption !== undefined ? { hlsEncryption: String(b.hlsEncryption) } : {}),
      ...(b.forwards !== undefined ? { forwards: strings(b.forwards, 'forwards') } : {}),
    });
    return { status: 201, body: res };
  });
  admin.route('GET', '/api/v1/channels/:app/:name', async ({ params }) => ({
    body: await s.getChannel(params.app!, params.name!),
  }));
  admin.route('DELETE', '/api/v1/channels/:app/:name', async ({ params }) => ({
    body: await s.deleteChannel(params.app!, params.name!),
  }));
  admin.route('POST', '/api/v1/channels/:app/:name/reset-key', async ({ params, body }) => {
    const b = obj(await body());
    return { body: await s.resetKey(params.app!, params.name!, optRole(b.role, 'role') ?? 'primary') };
  });
  admin.route('PUT', '/api/v1/channels/:app/:name/backup', async ({ params, body }) => {
    const b = obj(await body());
    if (typeof b.enabled !== 'boolean')
      throw new RelaycastError('RC_BAD_REQUEST', 'enabled (true or false) is required');
    return { body: await s.setBackup(params.app!, params.name!, b.enabled, optPolicy(b.failover)) };
  });
  admin.route('POST', '/api/v1/channels/:app/:name/switch', async ({ params, body }) => {
    const b = obj(await body());
    const to = optRole(b.to, 'to');
    if (!to) throw new RelaycastError('RC_BAD_REQUEST', 'to ("primary" or "backup") is required');
    return {
      body: await s.switchChannel(
        params.app!,
        params.name!,
        to,
        typeof b.reason === 'string' ? b.reason : 'manual',
        b.force === true,
      ),
    };
  });
  admin.route('GET', '/api/v1/channels/:app/:name/forwards', async ({ params }) => ({
    body: { forwards: (await s.getChannel(params.app!, params.name!)).forwards },
  }));
  admin.route('POST', '/api/v1/channels/:app/:name/forwards', async ({ params, body }) => {
    const b = obj(await body());
    if (typeof b.url !== 'string' || !b.url)
      throw new RelaycastError('RC_BAD_REQUEST', 'url (rtmp://host/app/KEY or rtmps://…) is required');
    return { status: 201, body: await s.addForward(params.app!, params.name!, b.url) };
  });
  admin.route('DELETE', '/api/v1/channels/:app/:name/forwards/:id', async ({ params }) => {
    await s.removeForward(params.app!, params.name!, params.id!);
    return { body: { removed: true } };
  });
  admin.route('GET', '/api/v1/cluster/streams', async ({ query }) => ({
    body: { streams: await s.listStreams(query.get('app') ?? undefined) },
  }));
  admin.route('GET', '/api/v1/cluster/streams/:app/:name', async ({ params }) => ({
    body: await s.getStream(params.app!, params.name!),
  }));
  admin.route('POST', '/api/v1/cluster/streams/:app/:name/kick', async ({ params, body }) => {
    const b = obj(await body());
    return {
      body: { kicked: await s.kick(params.app!, params.name!, optRole(b.role, 'role'), 'kicked-by-admin') },
    };
  });
  admin.route('GET', '/api/v1/nodes', async ({ query }) => ({
    body: { nodes: await s.listNodes(query.get('role') ?? undefined) },
  }));
  admin.route('POST', '/api/v1/nodes/:id/drain', async ({ params }) => {
    await s.drainNode(params.id!);
    return { status: 202, body: { accepted: true } };
  });
  admin.route('POST', '/api/v1/nodes/:id/undrain', async ({ params }) => {
    await s.undrainNode(params.id!);
    return { status: 202, body: { accepted: true } };
  });
}
