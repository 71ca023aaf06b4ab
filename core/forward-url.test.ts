import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RelaycastError } from './errors.ts';
import { parseForwardUrl, redactUrl } from './forward-url.ts';

describe('parseForwardUrl', () => {
  it('splits host, port, app and key; the last path segment is the key', () => {
    assert.deepEqual(parseForwardUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl'), {
      scheme: 'rtmp',
      host: 'a.rtmp.youtube.com',
      port: 1935,
      app: 'live2',
      key: 'abcd-efgh-ijkl',
      tcUrl: 'rtmp://a.rtmp.youtube.com/live2',
    });
    assert.deepEqual(parseForwardUrl('rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&s_sw=0'), {
      scheme: 'rtmps',
      host: 'live-api-s.facebook.com',
      port: 443,
      app: 'rtmp',
      key: 'FB-123?s_bl=1&s_sw=0',
      tcUrl: 'rtmps://live-api-s.facebook.com:443/rtmp',
    });
  });

  it('keeps extra app segments and an app query, defaults rtmps to 443, accepts IPv6', () => {
    const t = parseForwardUrl('RTMP://Host.Example:1936/app/sub/KEY');
    assert.equal(t.host, 'host.example');
    assert.equal(t.port, 1936);
    assert.equal(t.app, 'app/sub');
    assert.equal(t.key, 'KEY');
    assert.equal(t.tcUrl, 'rtmp://Host.Example:1936/app/sub');
    const w = parseForwardUrl('rtmp://10.0.0.1/app?auth=secret/KEY');
    assert.equal(w.app, 'app?auth=secret');
    assert.equal(w.key, 'KEY');
    assert.equal(parseForwardUrl('rtmps://x.example/live/k').port, 443);
    const v6 = parseForwardUrl('rtmp://[::1]:19350/live/k');
    assert.equal(v6.host, '::1');
    assert.equal(v6.port, 19350);
  });

  it('refuses what is not a forwardable URL with RC_FORWARD_URL_INVALID, never echoing the key', () => {
    const bad = [
      '',
      'live/key',
      'http://host/live/SECRETKEY',
      'srt://host:9000/live/SECRETKEY',
      'rtmp://host/SECRETKEY',
      'rtmp://host/live/',
      'rtmp:///live/SECRETKEY',
      'rtmp://host:0/live/SECRETKEY',
      'rtmp://host:99999/live/SECRETKEY',
      'rtmp://user:pw@host/live/SECRETKEY',
      'rtmp://host//SECRETKEY',
      'rtmp://host/a/../SECRETKEY',
      'rtmp://host/live/SECRET KEY',
      'rtmp://host/live/SECRETKEY#frag',
      'rtmp://host/live/?k=SECRETKEY',
    ];
    for (const url of bad) {
      assert.throws(
        () => parseForwardUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof RelaycastError, url);
          assert.equal(err.code, 'RC_FORWARD_URL_INVALID', url);
          assert.equal(err.httpStatus, 400);
          assert.match(err.message, /expected rtmp:\/\/host\[:port\]\/app\/streamkey/);
          assert.doesNotMatch(err.message, /SECRET/, `${url} → ${err.message}`);
          return true;
        },
        url,
      );
    }
  });
});

describe('redactUrl', () => {
  it('replaces the key and every query value with ***', () => {
    assert.equal(
      redactUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh'),
      'rtmp://a.rtmp.youtube.com/live2/***',
    );
    assert.equal(
      redactUrl('rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&token=xyz'),
      'rtmps://live-api-s.facebook.com:443/rtmp/***?s_bl=***&token=***',
    );
    assert.equal(redactUrl('rtmp://h/app?auth=secret/KEY'), 'rtmp://h/app?auth=***/***');
    assert.equal(redactUrl('rtmp://h/app/sub/KEY'), 'rtmp://h/app/sub/***');
    assert.equal(redactUrl('rtmp://u:pw@h/app/KEY'), 'rtmp://***@h/app/***');
    assert.equal(redactUrl('rtmp://h?token=x'), 'rtmp://h?token=***');
    assert.equal(redactUrl('rtmp://h/'), 'rtmp://h/');
  });

  it('hides all of what it cannot parse', () => {
    assert.equal(redactUrl('not a url with SECRET'), '***');
    assert.equal(redactUrl(undefined as unknown as string), '***');
  });
});
