/** What the leak tests share: the process's active resources, a bounded wait, a raw HTTP GET. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';

/** process.getActiveResourcesInfo() counted by kind. */
export function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
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
