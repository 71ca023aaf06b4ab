/** What the leak tests share: the process's active resources, a bounded wait, a raw HTTP GET. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { TimerTracker } from './timer-tracker.ts';

/** process.getActiveResourcesInfo() counted by kind. */
export function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/**
 * Waits (15 s at most) until no more resources are active than at `baseline` and, with `timers`,
 * every timer it tracks has been cleared or has fired (unref'd ones too, which
 * getActiveResourcesInfo hides); fails naming what is left.
 */
export async function backToBaseline(baseline: Map<string, number>, timers?: TimerTracker): Promise<void> {
  let last = '';
  await until(
    'active resources back to baseline',
    () => {
      const extra = [...resources()]
        .filter(([k, n]) => n > (baseline.get(k) ?? 0))
        .map(([k, n]) => `${k}=${n}`);
      last = `still active: ${extra.join(', ')} (baseline ${JSON.stringify([...baseline])})`;
      return extra.length === 0;
    },
    15_000,
  ).catch(() => assert.fail(last));
  if (timers)
    await until('every timer cleared or fired', () => timers.live().length === 0, 15_000).catch(() =>
      assert.fail(`timers still pending:\n${timers.live().join('\n')}`),
    );
}

export async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A GET without an agent (no pooled socket outlives it), readable as bytes or text. */
export function get(
  url: string,
): Promise<{ status: number; close(): void; bytes(): number; text(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let n = 0;
      const parts: Buffer[] = [];
      const ended = new Promise<void>((r) => res.on('end', r));
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (parts.length < 100) parts.push(c);
      });
      resolve({
        status: res.statusCode ?? 0,
        close: () => req.destroy(),
        bytes: () => n,
        text: async () => {
          await ended;
          return Buffer.concat(parts).toString();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
