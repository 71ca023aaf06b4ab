import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../core/log.ts';
import { KubeLeaseElector, podNamespace } from './kube-lease.ts';

const NS = 'relaycast';
const LEASE = 'relaycast-control-plane';
const LEASE_DURATION_MS = 1000;
const RETRY_MS = 100;
/** RFC3339 with exactly six fractional digits: what the API server's MicroTime parser accepts. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

// biome-ignore lint/suspicious/noExplicitAny: Lease objects are plain JSON here
type Json = any;

interface StubRequest {
  method: string;
  path: string;
  /** The bearer token; each elector's kubeconfig uses its identity as token. */
  who: string;
  status: number;
  body?: Json;
  /** metadata.resourceVersion sent with a PUT. */
  sentResourceVersion?: string;
}

/**
 * A small stand-in for the API server's Lease endpoints, with real resourceVersion semantics:
 * every write gets a new resourceVersion, a PUT carrying another one is refused with 409, a POST
 * of an existing name is 409 AlreadyExists, and a missing lease is a 404 Status.
 */
class KubeStub {
  readonly leases = new Map<string, Json>();
  readonly requests: StubRequest[] = [];
  /** Identities whose POST/PUT are answered 503. */
  readonly refuseWrites = new Set<string>();
  /** Identities whose requests are never answered. */
  readonly hang = new Set<string>();
  /** Identities whose PUTs are held this long before being applied. */
  readonly delayPut = new Map<string, number>();
  /** PUTs currently held by delayPut, per identity. */
  readonly putsInFlight = new Map<string, number>();
  /** Runs once before the next PUT is applied (e.g. to bump the resourceVersion). */
  beforeNextPut: ((key: string) => void) | undefined;
  url = '';
  private resourceVersion = 1000;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) this.send(res, 500, status(500, 'InternalError', err.message));
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  lease(name = LEASE, ns = NS): Json {
    return this.leases.get(`${ns}/${name}`);
  }

  /** Stores a lease as if some other client had created it. */
  put(spec: Json, name = LEASE, ns = NS): void {
    this.leases.set(`${ns}/${name}`, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: ns, resourceVersion: this.nextVersion(), uid: `uid-${name}` },
      spec,
    });
  }

  bumpResourceVersion(key: string): void {
    const lease = this.leases.get(key);
    if (lease) lease.metadata.resourceVersion = this.nextVersion();
  }

  writes(who?: string): StubRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && (who === undefined || r.who === who));
  }

  private nextVersion(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private send(res: ServerResponse, code: number, body: Json): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: Json = text ? JSON.parse(text) : undefined;
    const who = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const record: StubRequest = { method, path, who, status: 0, body };
    if (method === 'PUT') record.sentResourceVersion = body?.metadata?.resourceVersion;
    this.requests.push(record);
    const reply = (code: number, payload: Json) => {
      record.status = code;
      this.send(res, code, payload);
    };

    if (this.hang.has(who)) return; // never answered
    const m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path);
    if (!m) return reply(404, status(404, 'NotFound', `no route for ${path}`));
    const ns = m[1]!;
    const name = m[2];
    if (method !== 'GET' && this.refuseWrites.has(who))
      return reply(503, status(503, 'ServiceUnavailable', 'writes refused by the test'));

    if (method === 'GET' && name) {
      const lease = this.leases.get(`${ns}/${name}`);
      return lease ? reply(200, lease) : reply(404, notFound(name));
    }
    if (method === 'POST' && !name) {
      const leaseName: string = body?.metadata?.name;
      const key = `${ns}/${leaseName}`;
      const bad = invalid(body);
      if (bad) return reply(400, status(400, 'BadRequest', bad));
      if (this.leases.has(key))
        return reply(
          409,
          status(409, 'AlreadyExists', `leases.coordination.k8s.io "${leaseName}" already exists`, leaseName),
        );
      const stored = {
        ...body,
        metadata: {
          ...body.metadata,
          namespace: ns,
          uid: `uid-${leaseName}`,
          resourceVersion: this.nextVersion(),
        },
      };
      this.leases.set(key, stored);
      return reply(201, stored);
    }
    if (method === 'PUT' && name) {
      const delay = this.delayPut.get(who);
      if (delay) {
        this.putsInFlight.set(who, (this.putsInFlight.get(who) ?? 0) + 1);
        await sleep(delay);
        this.putsInFlight.set(who, (this.putsInFlight.get(who) ?? 1) - 1);
      }
      const key = `${ns}/${name}`;
      const hook = this.beforeNextPut;
      this.beforeNextPut = undefined;
      hook?.(key);
      const stored = this.leases.get(key);
      if (!stored) return reply(404, notFound(name));
      if (body?.metadata?.name !== name) return reply(400, status(400, 'BadRequest', 'name does not match'));
      const bad = invalid(body);
      if (bad) return reply(400, status(400, 'BadRequest', bad));
      const sent = body.metadata.resourceVersion;
      // Leases allow unconditional updates (no resourceVersion); a stale one is a conflict.
      if (sent !== undefined && sent !== stored.metadata.resourceVersion)
        return reply(
          409,
          status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            name,
          ),
        );
      const updated = {
        ...body,
        metadata: { ...body.metadata, uid: stored.metadata.uid, resourceVersion: this.nextVersion() },
      };
      this.leases.set(key, updated);
      return reply(200, updated);
    }
    reply(405, status(405, 'MethodNotAllowed', `${method} ${path}`));
  }
}

function status(code: number, reason: string, message: string, name?: string): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(name ? { details: { name, group: 'coordination.k8s.io', kind: 'leases' } } : {}),
    code,
  };
}

function notFound(name: string): Json {
  return status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, name);
}

/** The API server cannot decode MicroTime without six fractional digits. */
function invalid(body: Json): string | undefined {
  for (const field of ['acquireTime', 'renewTime']) {
    const value = body?.spec?.[field];
    if (value !== undefined && !MICRO_TIME.test(value)) return `spec.${field}: cannot parse ${value}`;
  }
  return undefined;
}

function kubeConfig(stub: KubeStub, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stub', server: stub.url, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'c', cluster: 'stub', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

function elector(stub: KubeStub, identity: string, leaseDurationMs = LEASE_DURATION_MS): KubeLeaseElector {
  return new KubeLeaseElector(
    {
      leaseName: LEASE,
      identity,
      leaseDurationMs,
      retryPeriodMs: RETRY_MS,
      namespace: NS,
      kubeConfig: kubeConfig(stub, identity),
    },
    createLogger('silent', {}),
  );
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Samples isLeader() on every elector every 20 ms; counts samples where more than one is leader. */
function overlapSampler(electors: KubeLeaseElector[]) {
  let samples = 0;
  let overlaps = 0;
  const timer = setInterval(() => {
    samples += 1;
    if (electors.filter((e) => e.isLeader()).length > 1) overlaps += 1;
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return { samples, overlaps };
    },
  };
}

/** A started stub plus electors that are all stopped, and the stub closed, at the end. */
async function withStub(
  fn: (stub: KubeStub, track: (e: KubeLeaseElector) => KubeLeaseElector) => Promise<void>,
) {
  const stub = new KubeStub();
  await stub.listen();
  const electors: KubeLeaseElector[] = [];
  try {
    await fn(stub, (e) => {
      electors.push(e);
      return e;
    });
  } finally {
    await Promise.all(electors.map((e) => e.stop()));
    await stub.close();
  }
}

describe('KubeLeaseElector', () => {
  it('elects exactly one of two replicas and writes a well-formed Lease', async () => {
    await withStub(async (stub, track) => {
      const a = track(elector(stub, 'replica-a', 3000));
      const b = track(elector(stub, 'replica-b', 3000));
      assert.equal(a.kind, 'kubernetes');
      a.start();
      b.start();
      await waitFor(() => a.isLeader() || b.isLeader(), 5000, 'a leader');
      const sampler = overlapSampler([a, b]);
      const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
      // Several renewals by the leader, and polls by the follower.
      const renewals = () => stub.writes(leader.identity).filter((r) => r.method === 'PUT').length;
      await waitFor(() => renewals() >= 3 && follower.currentHolder() === leader.identity, 5000, 'renewals');
      await sleep(3 * RETRY_MS);
      const { samples, overlaps } = sampler.stop();
      assert.ok(samples > 0);
      assert.equal(overlaps, 0, `both leaders in ${overlaps} of ${samples} samples`);

      assert.equal(leader.isLeader(), true);
      assert.equal(follower.isLeader(), false);
      assert.deepEqual(leader.fence(), { name: `kubernetes:${LEASE}`, token: 0 });
      assert.equal(follower.fence(), undefined);
      assert.equal(follower.currentHolder(), leader.identity);
      assert.equal(leader.currentHolder(), leader.identity);

      const lease = stub.lease();
      assert.equal(lease.spec.holderIdentity, leader.identity);
      assert.equal(lease.spec.leaseDurationSeconds, 3);
      assert.equal(lease.spec.leaseTransitions, 0);
      assert.match(lease.spec.acquireTime, MICRO_TIME);
      assert.match(lease.spec.renewTime, MICRO_TIME);
      // The leader renewed (PUT) with the resourceVersion it read; the follower never wrote over it.
      const puts = stub.writes().filter((r) => r.method === 'PUT');
      assert.ok(puts.every((r) => r.who === leader.identity && r.sentResourceVersion !== undefined));
      assert.ok(puts.every((r) => r.status === 200));
      assert.ok(stub.writes(follower.identity).every((r) => r.method === 'POST' && r.status === 409));
    });
  });

  it('hands over at once when the leader stops (release), with a higher fencing token', async () => {
    await withStub(async (stub, track) => {
      // A long lease, so that a handover through expiry would be obvious.
      const a = track(elector(stub, 'replica-a', 5000));
      const b = track(elector(stub, 'replica-b', 5000));
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      b.start();
      await waitFor(() => b.currentHolder() === 'replica-a', 5000, 'b to see a as holder');
      const before = a.fence();
      assert.ok(before);

      const stoppedAt = Date.now();
      await a.stop();
      assert.equal(a.isLeader(), false);
      assert.equal(a.fence(), undefined);
      const release = stub.writes('replica-a').at(-1);
      assert.equal(release?.method, 'PUT');
      assert.equal(release?.status, 200);
      assert.ok(!release?.body.spec.holderIdentity, 'release clears holderIdentity');

      await waitFor(() => b.isLeader(), 5000, 'b to take over');
      const handoverMs = Date.now() - stoppedAt;
      assert.ok(handoverMs < 1500, `handover took ${handoverMs} ms (lease is 5000 ms)`);
      const after = b.fence();
      assert.ok(after && after.token > before.token, `tokens ${before.token} -> ${after?.token}`);
      assert.equal(stub.lease().spec.holderIdentity, 'replica-b');
      assert.equal(stub.lease().spec.leaseTransitions, after.token);
    });
  });

  it('a leader that cannot renew steps down when its lease runs out; the other takes over only then', async () => {
    await withStub(async (stub, track) => {
      const a = track(elector(stub, 'replica-a'));
      const b = track(elector(stub, 'replica-b'));
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      b.start();
      await waitFor(() => b.currentHolder() === 'replica-a', 5000, 'b to see a as holder');
      await sleep(3 * RETRY_MS);
      const aToken = a.fence()!.token;
      const times: Record<string, number> = {};
      a.on('change', (leader: boolean) => {
        if (!leader) times.aDown ??= Date.now();
      });
      b.on('change', (leader: boolean) => {
        if (leader) times.bUp ??= Date.now();
      });

      const sampler = overlapSampler([a, b]);
      const cutAt = Date.now();
      stub.refuseWrites.add('replica-a');
      try {
        await waitFor(() => times.bUp !== undefined, 5000, 'b to take over');
        await sleep(5 * RETRY_MS);
      } finally {
        const { samples, overlaps } = sampler.stop();
        assert.equal(overlaps, 0, `both leaders in ${overlaps} of ${samples} samples`);
      }
      const aDown = times.aDown! - cutAt;
      const bUp = times.bUp! - cutAt;
      // Its lease ran out at most LEASE_DURATION_MS after the cut (+ sampling and event-loop lag).
      assert.ok(aDown <= LEASE_DURATION_MS + 500, `a stepped down ${aDown} ms after its writes failed`);
      assert.ok(bUp >= aDown, `b led at ${bUp} ms, before a stepped down at ${aDown} ms`);
      // b waited for the lease to expire (no release happened).
      assert.ok(bUp >= LEASE_DURATION_MS - 200, `b took over after ${bUp} ms`);
      assert.equal(a.isLeader(), false);
      assert.ok(b.fence()!.token > aToken);
      assert.equal(stub.lease().spec.holderIdentity, 'replica-b');
      assert.ok(stub.writes('replica-a').some((r) => r.status === 503));
    });
  });

  it('a leader whose API requests hang steps down by itself (requests time out)', async () => {
    await withStub(async (stub, track) => {
      const a = track(elector(stub, 'replica-a'));
      const b = track(elector(stub, 'replica-b'));
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      b.start();
      await waitFor(() => b.currentHolder() === 'replica-a', 5000, 'b to see a as holder');
      let aDownAt: number | undefined;
      a.on('change', (leader: boolean) => {
        if (!leader) aDownAt ??= Date.now();
      });
      const cutAt = Date.now();
      stub.hang.add('replica-a');
      // Nobody calls a.isLeader() here: the 'change' event must come from a's own loop.
      await waitFor(() => aDownAt !== undefined, 5000, 'a to step down on its own');
      // Within its lease plus a request timeout or two (default leaseDurationMs / 3 each).
      assert.ok(aDownAt! - cutAt < LEASE_DURATION_MS + 2000, `a stepped down after ${aDownAt! - cutAt} ms`);
      await waitFor(() => b.isLeader(), 5000, 'b to take over');
      assert.equal(a.isLeader(), false);
      assert.equal(stub.lease().spec.holderIdentity, 'replica-b');
    });
  });

  it('does not claim leadership when the lease changed between GET and PUT (409), and wins later', async () => {
    await withStub(async (stub, track) => {
      // A released lease: free to take, so the first attempt is a GET then a PUT.
      stub.put({
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: '2026-01-01T00:00:00.000000Z',
        leaseTransitions: 2,
      });
      stub.beforeNextPut = (key) => stub.bumpResourceVersion(key); // someone else writes in between
      const a = track(elector(stub, 'replica-a'));
      let seenWhenElected: StubRequest[] | undefined;
      a.on('change', (leader: boolean) => {
        if (leader) seenWhenElected ??= stub.writes('replica-a').map((r) => ({ ...r }));
      });
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      const writes = seenWhenElected!;
      assert.equal(writes.length, 2, JSON.stringify(writes.map((w) => [w.method, w.status])));
      assert.deepEqual(
        writes.map((w) => [w.method, w.status]),
        [
          ['PUT', 409],
          ['PUT', 200],
        ],
      );
      assert.deepEqual(a.fence(), { name: `kubernetes:${LEASE}`, token: 3 });
      assert.equal(stub.lease().spec.leaseTransitions, 3);
      assert.equal(stub.lease().spec.holderIdentity, 'replica-a');
    });
  });

  it('takes over an expired lease held by a dead replica, with leaseTransitions + 1', async () => {
    await withStub(async (stub, track) => {
      stub.put({
        holderIdentity: 'replica-dead',
        leaseDurationSeconds: 1,
        acquireTime: '2026-01-01T00:00:00.000000Z',
        renewTime: '2026-01-01T00:00:10.000000Z',
        leaseTransitions: 4,
      });
      const a = track(elector(stub, 'replica-a'));
      const startedAt = Date.now();
      a.start();
      await waitFor(() => a.currentHolder() === 'replica-dead', 5000, 'a to see the dead holder');
      assert.equal(a.isLeader(), false);
      await waitFor(() => a.isLeader(), 5000, 'a to take over');
      // Expiry is measured from when a first saw the record, not from renewTime (client-go's rule).
      const waitedMs = Date.now() - startedAt;
      assert.ok(waitedMs >= LEASE_DURATION_MS - 50, `took over after ${waitedMs} ms`);
      assert.deepEqual(a.fence(), { name: `kubernetes:${LEASE}`, token: 5 });
      const lease = stub.lease();
      assert.equal(lease.spec.holderIdentity, 'replica-a');
      assert.equal(lease.spec.leaseTransitions, 5);
      assert.notEqual(lease.spec.acquireTime, '2026-01-01T00:00:00.000000Z');
      assert.match(lease.spec.acquireTime, MICRO_TIME);
    });
  });

  it('re-acquiring its own lease after stepping down starts a new term with a higher token', async () => {
    await withStub(async (stub, track) => {
      const a = track(elector(stub, 'replica-a'));
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      const first = a.fence()!.token;
      stub.refuseWrites.add('replica-a');
      await waitFor(() => !a.isLeader(), 5000, 'a to step down');
      stub.refuseWrites.delete('replica-a');
      await waitFor(() => a.isLeader(), 5000, 'a to lead again');
      assert.ok(a.fence()!.token > first, `token ${first} -> ${a.fence()!.token}`);
      assert.equal(stub.lease().spec.leaseTransitions, a.fence()!.token);
    });
  });

  it('stop() during an in-flight renewal neither leaves it leader nor keeps the lease', async () => {
    await withStub(async (stub, track) => {
      const a = track(elector(stub, 'replica-a', 5000));
      const b = track(elector(stub, 'replica-b', 5000));
      a.start();
      await waitFor(() => a.isLeader(), 5000, 'a to lead');
      b.start();
      await waitFor(() => b.currentHolder() === 'replica-a', 5000, 'b to see a as holder');
      const events: boolean[] = [];
      stub.delayPut.set('replica-a', 300);
      await waitFor(() => (stub.putsInFlight.get('replica-a') ?? 0) > 0, 5000, 'a renewal in flight');
      const stopping = a.stop();
      a.on('change', (leader: boolean) => events.push(leader));
      const stoppedAt = Date.now();
      await stopping;
      assert.equal(a.isLeader(), false);
      await sleep(400);
      assert.equal(a.isLeader(), false);
      assert.deepEqual(events, [], 'no leadership after stop()');
      // The lease was still released: b takes over well before the 5 s lease would expire.
      await waitFor(() => b.isLeader(), 5000, 'b to take over');
      assert.ok(Date.now() - stoppedAt < 2500, `handover took ${Date.now() - stoppedAt} ms`);
    });
  });
});

describe('podNamespace', () => {
  it('prefers $POD_NAMESPACE, then the service account file, else default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relaycast-ns-'));
    const saved = process.env.POD_NAMESPACE;
    try {
      const file = join(dir, 'namespace');
      writeFileSync(file, 'from-file\n');
      delete process.env.POD_NAMESPACE;
      assert.equal(podNamespace(file), 'from-file');
      process.env.POD_NAMESPACE = 'from-env';
      assert.equal(podNamespace(file), 'from-env');
      delete process.env.POD_NAMESPACE;
      assert.equal(podNamespace(join(dir, 'missing')), 'default');
    } finally {
      if (saved === undefined) delete process.env.POD_NAMESPACE;
      else process.env.POD_NAMESPACE = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
