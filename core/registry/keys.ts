import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Publish keys are random 144-bit secrets (generateStreamKey), so a fast unsalted hash is the
 * right tool: there is nothing to brute-force from the hash, and lookups stay O(1).
 */
export function hashStreamKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateStreamKey(): string {
  return `rc_${randomBytes(18).toString('base64url')}`;
}

export function constantTimeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
