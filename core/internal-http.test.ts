import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamHub } from '../media/hub/hub.ts';
import { InternalHttpServer } from './internal-http.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { type HlsSource, LocalHubSource } from './sources.ts';

const KEY = Buffer.alloc(16, 5);
const hls: HlsSource = {
  playlist: async () => undefined,
  segment: async () => undefined,
  key: async (app, name, id) => (app === 'live' && name === 'x' && id === '7' ? KEY : undefined),
};

async function keyStatus(
  serveKeys: boolean,
  path: string,
): Promise<{ status: number; body: Buffer; cache: string | null }> {
  const hub = new StreamHub();
  const server = new InternalHttpServer(
    hub,
    new LocalHubSource(hub),
    hls,
    { host: '127.0.0.1', port: 0, clusterToken: 'relay-token', serveKeys },
    createMetrics({ role: 'edge', nodeId: 'n', version: 't', maxStreams: 10 }),
    createLogger('silent'),
  );
  const port = await server.listen();
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { authorization: 'Bearer relay-token' },
    });
    return {
      status: res.status,
      body: Buffer.from(await res.arrayBuffer()),
      cache: res.headers.get('cache-control'),
    };
  } finally {
    server.server.close();
  }
}

describe('internal HTTP: HLS keys', () => {
  it('the --workers relay serves keys (no-store); an origin internal port never does', async () => {
    const relay = await keyStatus(true, '/live/x/keys/7');
    assert.equal(relay.status, 200);
    assert.deepEqual(relay.body, KEY);
    assert.equal(relay.cache, 'no-store');
    assert.equal((await keyStatus(true, '/live/x/keys/8')).status, 404);
    assert.equal((await keyStatus(false, '/live/x/keys/7')).status, 404);
  });
});
