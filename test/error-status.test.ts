/**
 * The three servers answer one error code with the statuses of core/errors.ts's one table: the
 * viewer HTTP (edge), the admin REST (every process) and the control plane's gRPC. In memory: no
 * server listens.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneGrpcServer } from '../control-plane/grpc-server.ts';
import type { ControlService } from '../control-plane/service.ts';
import { AdminHttpServer } from '../core/admin-http.ts';
import { ERROR_STATUS, GRPC_STATUS, RelaycastError, type RelaycastErrorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { inject } from '../core/testing/fake-net.ts';
import { ViewerHttpServer } from '../edge/viewer-http.ts';
import { MediaError } from '../media/errors.ts';

const log = createLogger('silent');
const metrics = createMetrics({ role: 'test', nodeId: 't', version: '0', maxStreams: 10 });
const CODES = Object.keys(ERROR_STATUS) as (keyof typeof ERROR_STATUS)[];

function errorFor(code: keyof typeof ERROR_STATUS): Error {
  return code.startsWith('RC_AMF') ||
    code.startsWith('RC_RTMP') ||
    code.startsWith('RC_FLV') ||
    code.startsWith('RC_CODEC') ||
    code.startsWith('RC_TS') ||
    code === 'RC_INVALID_STATE'
    ? new MediaError(code as ConstructorParameters<typeof MediaError>[0], `failed with ${code}`)
    : new RelaycastError(code as RelaycastErrorCode, `failed with ${code}`);
}

let thrown: Error = new Error('unset');

async function viewerHttpStatus(): Promise<{ status: number; code: string }> {
  const server = new ViewerHttpServer(
    {
      acquire: async () => {
        throw thrown;
      },
    },
    undefined,
    {
      host: '127.0.0.1',
      port: 0,
      playAuth: 'open',
      playSecrets: [],
      maxViewersPerNode: 0,
      maxViewersPerStream: 0,
      maxConnectionsPerIp: 0,
      listStreams: async () => [],
      viewerCount: () => 0,
    },
    metrics,
    log,
  );
  const res = await inject(server.server, { url: '/live/x.flv' });
  const body = (await res.json()) as { error: { code: string } };
  return { status: res.status, code: body.error.code };
}

async function adminHttpStatus(admin: AdminHttpServer): Promise<{ status: number; code: string }> {
  const res = await inject(admin.server, { url: '/api/v1/fail' });
  const body = (await res.json()) as { error: { code: string } };
  return { status: res.status, code: body.error.code };
}

function grpcServer(): ControlPlaneGrpcServer {
  const registry = new EventEmitter();
  const service = {
    registry,
    resolve: async () => {
      throw thrown;
    },
  } as unknown as ControlService;
  return new ControlPlaneGrpcServer(
    { host: '127.0.0.1', port: 0, adminToken: undefined, clusterToken: undefined, watchRecheckMs: 60_000 },
    service,
    metrics,
    log,
  );
}

function grpcStatus(server: ControlPlaneGrpcServer): Promise<{ code: number; details: string }> {
  // The registered Resolve handler, called as grpc-js calls it (no listener, no client).
  const handlers = (server as unknown as { handlers(): Record<string, unknown> }).handlers();
  const resolve = handlers.Resolve as (
    call: unknown,
    cb: (err: { code: number; details: string } | null) => void,
  ) => void;
  return new Promise((done) =>
    resolve(
      { request: { app: 'live', name: 'x' }, metadata: new grpc.Metadata(), getPeer: () => '127.0.0.1:5000' },
      (err) => done(err ?? { code: 0, details: '' }),
    ),
  );
}

describe('one error table for every server', () => {
  it('viewer HTTP, admin HTTP and gRPC answer every code with its table status', async () => {
    const admin = new AdminHttpServer({ host: '127.0.0.1', port: 0, adminToken: undefined }, metrics, log);
    admin.route('GET', '/api/v1/fail', async () => {
      throw thrown;
    });
    const grpcSrv = grpcServer();
    for (const code of CODES) {
      thrown = errorFor(code);
      const want = ERROR_STATUS[code];
      const viewer = await viewerHttpStatus();
      assert.deepEqual(viewer, { status: want.http, code }, `viewer HTTP for ${code}`);
      assert.deepEqual(await adminHttpStatus(admin), { status: want.http, code }, `admin HTTP for ${code}`);
      const g = await grpcStatus(grpcSrv);
      assert.equal(g.code, GRPC_STATUS[want.grpc], `gRPC for ${code}`);
      assert.equal(g.details, `failed with ${code}`);
    }
    grpcSrv.server.forceShutdown();
  });

  it('RC_REGISTRY_UNAVAILABLE is 503 / UNAVAILABLE on all three', async () => {
    thrown = new RelaycastError('RC_REGISTRY_UNAVAILABLE', 'redis is down; retry');
    assert.equal((await viewerHttpStatus()).status, 503);
    const admin = new AdminHttpServer({ host: '127.0.0.1', port: 0, adminToken: undefined }, metrics, log);
    admin.route('GET', '/api/v1/fail', async () => {
      throw thrown;
    });
    assert.equal((await adminHttpStatus(admin)).status, 503);
    const g = grpcServer();
    assert.equal((await grpcStatus(g)).code, grpc.status.UNAVAILABLE);
    g.server.forceShutdown();
  });

  it('admin answers a body that is not JSON with RC_BAD_REQUEST (400)', async () => {
    const admin = new AdminHttpServer({ host: '127.0.0.1', port: 0, adminToken: undefined }, metrics, log);
    admin.route('POST', '/api/v1/echo', async ({ body }) => ({ body: await body() }));
    const res = await inject(admin.server, {
      method: 'POST',
      url: '/api/v1/echo',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RC_BAD_REQUEST');
  });
});
