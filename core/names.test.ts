import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStreamPath } from './http-util.ts';
import { validateAppName, validateName, validateStreamId, validateStreamName } from './names.ts';

const invalid = { code: 'RC_NAME_INVALID' };

describe('names: one rule for apps, streams and channels', () => {
  it('accepts ordinary names and nested apps', () => {
    for (const name of ['test', 'a.b', 'x_y-z~1', 'cam.01', '...a', 'a..b', 'a'.repeat(128)])
      assert.doesNotThrow(() => validateName(name), name);
    for (const app of ['live', 'tv/sports', 'a/b/c', 'v1.2'])
      assert.doesNotThrow(() => validateAppName(app), app);
    assert.doesNotThrow(() => validateStreamName('live', 'studio'));
  });

  it('refuses path steps, empty segments, other characters and overlong names', () => {
    for (const name of [
      '.',
      '..',
      '...',
      '',
      'a/b',
      'a b',
      'é',
      'x\0',
      '%2e%2e',
      'a'.repeat(129),
      '<script>',
    ])
      assert.throws(() => validateName(name), invalid, JSON.stringify(name));
    for (const app of ['..', '.', '../x', 'x/..', 'a/../b', 'a//b', '/a', 'a/', '', 'a/./b', 'x'.repeat(129)])
      assert.throws(() => validateAppName(app), invalid, JSON.stringify(app));
    assert.throws(() => validateStreamId('../../../../home/x', 'victim'), invalid);
    assert.throws(() => validateStreamId('live', '..'), invalid);
  });

  it("reserves '<name>~backup' for publishing and channels, not for lookups", () => {
    assert.throws(() => validateStreamName('live', 'news~backup'), invalid);
    assert.doesNotThrow(() => validateStreamId('live', 'news~backup'));
  });

  it('HTTP paths are checked after percent-decoding', () => {
    assert.deepEqual(parseStreamPath('/live/test.flv'), { app: 'live', name: 'test', ext: 'flv' });
    assert.deepEqual(parseStreamPath('/tv/sports/x.m3u8'), { app: 'tv/sports', name: 'x', ext: 'm3u8' });
    assert.equal(parseStreamPath('/nothing'), undefined);
    for (const path of [
      '/%2e%2e/x.flv',
      '/live/%2e%2e.flv',
      '/a/%2E%2E/b/x.ts',
      '/live/a%2fb.flv',
      '/live/%ZZ.flv',
      '/../x.flv',
    ])
      assert.throws(() => parseStreamPath(path), invalid, path);
  });
});
