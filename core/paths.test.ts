import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveUnder } from './paths.ts';

describe('resolveUnder', () => {
  it('joins names under the root', () => {
    assert.equal(resolveUnder('/srv/hls', 'live', 'x'), '/srv/hls/live/x');
    assert.equal(resolveUnder('/srv/hls/', 'tv/sports', 'x-1.ts'), '/srv/hls/tv/sports/x-1.ts');
  });
  it('refuses anything that resolves to the root or outside it', () => {
    for (const parts of [
      ['..'],
      ['live', '..', '..'],
      ['../hls2'],
      ['/etc'],
      ['.'],
      ['a', '../..', 'x'],
      [''],
    ])
      assert.throws(() => resolveUnder('/srv/hls', ...parts), { code: 'RC_NAME_INVALID' }, parts.join('|'));
  });
});

describe('resolveUnder: names that merely start with dots', () => {
  it('are folders like any other', () => {
    assert.equal(resolveUnder('/srv/hls', '..a', 'x'), '/srv/hls/..a/x');
  });
});
