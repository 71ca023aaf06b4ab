import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inNetworks, parseCidr } from './cidr.ts';

describe('CIDR lists', () => {
  it('parses IPv4 and IPv6 prefixes and refuses the rest', () => {
    assert.deepEqual(parseCidr('239.1.0.0/16'), { address: '239.1.0.0', prefix: 16, family: 'ipv4' });
    assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
    for (const bad of ['239.1.0.0', '239.1.0.0/33', 'host/8', '::/129', ''])
      assert.equal(parseCidr(bad), undefined, bad);
  });
  it('matches addresses; an empty list holds everything', () => {
    assert.equal(inNetworks('239.1.2.3', ['239.1.0.0/16']), true);
    assert.equal(inNetworks('239.2.2.3', ['239.1.0.0/16', '10.0.0.0/8']), false);
    assert.equal(inNetworks('10.9.9.9', ['239.1.0.0/16', '10.0.0.0/8']), true);
    assert.equal(inNetworks('fd00::5', ['fd00::/8']), true);
    assert.equal(inNetworks('1.2.3.4', undefined), true);
    assert.equal(inNetworks('1.2.3.4', []), true);
    assert.equal(inNetworks('not-an-ip', ['0.0.0.0/0']), false);
  });
});
