import type { AdminHttpServer } from '../core/admin-http.ts';
import { RelaycastError } from '../core/errors.ts';
import type { StreamStatsSampler } from '../core/stream-info.ts';
import type { StreamHub } from '../media/hub/hub.ts';

/** REST: GET /api/v1/streams, GET|DELETE /api/v1/streams/:app/:name (DELETE kicks the publisher). */
export function registerStreamRoutes(
  admin: AdminHttpServer,
  hub: StreamHub,
  stats: StreamStatsSampler,
): void {
  admin.route('GET', '/api/v1/streams', async () => ({
    body: { streams: hub.list().map((s) => stats.describe(s)) },
  }));
  const find = (app: string | undefined, name: string | undefined) => {
    const s = app && name ? hub.get(app, name) : undefined;
    if (!s) throw new RelaycastError('RC_NOT_FOUND', `no stream ${app}/${name} on this node`);
    return s;
  };
  admin.route('GET', '/api/v1/streams/:app/:name', async ({ params }) => ({
    body: stats.describe(find(params.app, params.name)),
  }));
  admin.route('DELETE', '/api/v1/streams/:app/:name', async ({ params }) => {
    const s = find(params.app, params.name);
    const kicked = s.kickPublisher('kicked');
    return { body: { kicked } };
  });
}
