import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { status as grpcJsStatus } from '@grpc/grpc-js';
import { MediaError } from '../media/errors.ts';
import { ERROR_STATUS, errorStatus, GRPC_STATUS, RelaycastError } from './errors.ts';

const root = join(import.meta.dirname, '..');

/** The codes a union type in `file` lists (`| 'RC_…'`). */
function unionCodes(file: string): string[] {
  const src = readFileSync(join(root, file), 'utf8');
  return [...src.matchAll(/\|\s*'(RC_[A-Z0-9_]+)'/g)].map((m) => m[1]!);
}

/** Every 'RC_…' literal in the source of the role folders (not tests). */
function codesInSource(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
        for (const m of readFileSync(join(root, rel), 'utf8').matchAll(/'(RC_[A-Z0-9_]+)'/g)) out.add(m[1]!);
    }
  };
  for (const d of ['media', 'core', 'origin', 'edge', 'control-plane', 'cli']) walk(d);
  return out;
}

describe('error statuses', () => {
  it('every code of RelaycastError and MediaError has an HTTP and a gRPC status', () => {
    const codes = [...unionCodes('core/errors.ts'), ...unionCodes('media/errors.ts')];
    assert.ok(codes.length > 30, `parsed ${codes.length} codes`);
    for (const code of codes) {
      const s = (ERROR_STATUS as Record<string, { http: number; grpc: string }>)[code];
      assert.ok(s, `${code} has no entry in ERROR_STATUS`);
      assert.ok(s.http >= 400 && s.http < 600, `${code}: HTTP ${s.http}`);
      assert.ok(s.grpc in GRPC_STATUS && s.grpc !== 'OK', `${code}: gRPC ${s.grpc}`);
    }
  });

  it('every RC_ code used in the source has a status', () => {
    for (const code of codesInSource()) assert.ok(code in ERROR_STATUS, `${code} is used but has no status`);
  });

  it('GRPC_STATUS matches @grpc/grpc-js', () => {
    for (const [name, n] of Object.entries(GRPC_STATUS))
      assert.equal(grpcJsStatus[name as keyof typeof grpcJsStatus], n, name);
  });

  it('RelaycastError carries its statuses; the registry is unavailable (503) everywhere', () => {
    const err = new RelaycastError('RC_REGISTRY_UNAVAILABLE', 'redis down');
    assert.equal(err.httpStatus, 503);
    assert.equal(err.grpcStatus, grpcJsStatus.UNAVAILABLE);
    assert.deepEqual(errorStatus(err), { code: 'RC_REGISTRY_UNAVAILABLE', http: 503, grpc: 14 });
  });

  it('media errors, foreign errors and unknown codes get a status', () => {
    assert.deepEqual(errorStatus(new MediaError('RC_FLV_BAD_TAG', 'x')), {
      code: 'RC_FLV_BAD_TAG',
      http: 400,
      grpc: GRPC_STATUS.INVALID_ARGUMENT,
    });
    assert.deepEqual(errorStatus(new Error('boom')), { code: 'RC_INTERNAL', http: 500, grpc: 13 });
    assert.deepEqual(errorStatus({ code: 'RC_SOMETHING_NEW' }), {
      code: 'RC_SOMETHING_NEW',
      http: 500,
      grpc: 13,
    });
    assert.equal(errorStatus({ code: 'RC_toString' }).http, 500);
  });
});
