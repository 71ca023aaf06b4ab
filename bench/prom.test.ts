import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { histogramQuantile } from './prom.ts';

const TEXT = [
  '# HELP relaycast_x_seconds x',
  'relaycast_x_seconds_bucket{le="0.01",protocol="flv"} 50',
  'relaycast_x_seconds_bucket{le="0.1",protocol="flv"} 90',
  'relaycast_x_seconds_bucket{le="1",protocol="flv"} 100',
  'relaycast_x_seconds_bucket{le="+Inf",protocol="flv"} 100',
  'relaycast_x_seconds_bucket{le="0.01",protocol="rtmp"} 0',
  'relaycast_x_seconds_bucket{le="+Inf",protocol="rtmp"} 7',
  'relaycast_x_seconds_sum{protocol="flv"} 3',
].join('\n');

describe('histogramQuantile (bench/prom.ts)', () => {
  it('interpolates inside the bucket like PromQL histogram_quantile', () => {
    assert.equal(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="flv"', 0.5), 0.01);
    assert.ok(
      Math.abs(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="flv"', 0.7)! - 0.055) < 1e-9,
    );
    assert.ok(
      Math.abs(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="flv"', 0.95)! - 0.55) < 1e-9,
    );
  });
  it('without interpolation answers the bucket bound the quantile falls under', () => {
    assert.equal(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="flv"', 0.3, false), 0.01);
    assert.equal(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="flv"', 0.95, false), 1);
  });
  it('answers the last finite bound past it, and null without observations', () => {
    assert.equal(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="rtmp"', 0.5), 0.01);
    assert.equal(histogramQuantile(TEXT, 'relaycast_x_seconds', 'protocol="hls"', 0.5), null);
  });
});
