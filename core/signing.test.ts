import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { RelaycastError } from './errors.ts';
import { signedQuery, signPlay, tokenQuery, verifyPlay } from './signing.ts';

const code = (f: () => void) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof RelaycastError);
    return e.code;
  }
};

describe('signed play URLs', () => {
  it('matches the documented algorithm (for backends in other languages)', () => {
    const expected = createHmac('sha256', 's3cret').update('live/studio1:1900000000').digest('hex');
    assert.equal(signPlay('s3cret', 'live', 'studio1', 1900000000), expected);
  });

  it('verifies, expires, rotates, binds to an IP', () => {
    const q = new URLSearchParams(signedQuery('new', 'live', 'a', 60));
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', q, '1.2.3.4')),
      'ok',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'b', q, '1.2.3.4')),
      'RC_PLAY_SIGNATURE_INVALID',
    );
    assert.equal(
      code(() => verifyPlay(['other', 'new'], 'live', 'a', q, undefined)),
      'ok',
      'any active secret',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', q, undefined, Date.now() + 120_000)),
      'RC_PLAY_SIGNATURE_EXPIRED',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', new URLSearchParams(), undefined)),
      'RC_PLAY_SIGNATURE_MISSING',
    );
    const bound = new URLSearchParams(signedQuery('new', 'live', 'a', 60, '1.2.3.4'));
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', bound, '::ffff:1.2.3.4')),
      'ok',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', bound, '5.6.7.8')),
      'RC_PLAY_SIGNATURE_INVALID',
    );
  });

  it('--play-bind-ip: only address-bound tokens pass, from their own address', () => {
    const now = Date.now();
    const unbound = new URLSearchParams(signedQuery('new', 'live', 'a', 60));
    const bound = new URLSearchParams(signedQuery('new', 'live', 'a', 60, '1.2.3.4'));
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', unbound, '1.2.3.4', now, true)),
      'RC_PLAY_SIGNATURE_INVALID',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', unbound, '1.2.3.4', now, false)),
      'ok',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', bound, '1.2.3.4', now, true)),
      'ok',
    );
    assert.equal(
      code(() => verifyPlay(['new'], 'live', 'a', bound, '5.6.7.8', now, true)),
      'RC_PLAY_SIGNATURE_INVALID',
    );
  });

  it('tokenQuery keeps only the token parameters', () => {
    assert.equal(tokenQuery(new URLSearchParams('expires=1&sig=ab&mode=hls&ip=1')), '?expires=1&sig=ab&ip=1');
    assert.equal(tokenQuery(new URLSearchParams('mode=hls')), '');
  });
});
