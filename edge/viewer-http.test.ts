import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyRateLimiter } from './viewer-http.ts';

describe('KeyRateLimiter', () => {
  it('allows max requests per address per window, then refuses until the window passes', () => {
    const l = new KeyRateLimiter(3, 1000);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => l.allow('a', 0)),
      [true, true, true, false],
    );
    assert.equal(l.allow('b', 10), true, 'other addresses have their own budget');
    assert.equal(l.allow('a', 999), false);
    assert.equal(l.allow('a', 1000), true);
  });
});
