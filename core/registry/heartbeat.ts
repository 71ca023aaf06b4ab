/**
 * A node's heartbeat: its NodeRecord (role, URLs, load) written under a lease every TTL/3, so
 * ListNodes shows live nodes and a dead one disappears within the TTL. Failures are counted and
 * retried on the next beat. (Origins beat from OriginCluster's own tick, with their lease renewals.)
 */
import type { Metrics } from '../metrics.ts';
import type { Registry } from './registry.ts';
import type { NodeRecord } from './types.ts';

export function startNodeHeartbeat(
  registry: Registry,
  leaseTtlMs: number,
  metrics: Metrics,
  record: () => Omit<NodeRecord, 'updatedAt'>,
): { beat(): Promise<void>; stop(): void } {
  const beat = async () => {
    try {
      await registry.heartbeatNode(record(), leaseTtlMs);
    } catch {
      metrics.registryErrors.inc({ op: 'heartbeatNode' });
    }
  };
  const timer = setInterval(() => void beat(), Math.max(200, leaseTtlMs / 3));
  timer.unref();
  void beat();
  return { beat, stop: () => clearInterval(timer) };
}
