import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseArgv, renderHelp, usableCores } from './config.ts';
import { RelaycastError } from './errors.ts';

const flags = (...argv: string[]) => parseArgv(argv).flags;

describe('config', () => {
  it('precedence: flag > env > YAML file > default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-cfg-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'rtmpPort: 2000\nhttpPort: 2001\nadminPort: 2002\n');
      const env = { RELAYCAST_HTTP_PORT: '3001', RELAYCAST_ADMIN_PORT: '3002' };
      const cfg = loadConfig('all', flags('--config', file, '--admin-port', '4002'), env);
      assert.equal(cfg.rtmpPort, 2000);
      assert.equal(cfg.httpPort, 3001);
      assert.equal(cfg.adminPort, 4002);
      assert.equal(cfg.grpcPort, 50051);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects typos and bad values with a message that names the option', () => {
    const bad = (f: () => unknown, re: RegExp) =>
      assert.throws(
        f,
        (e: unknown) => e instanceof RelaycastError && e.code === 'RC_CONFIG_INVALID' && re.test(e.message),
      );
    bad(() => loadConfig('all', flags('--rtmp-prot', '1'), {}), /unknown flag --rtmp-prot/);
    bad(() => loadConfig('all', flags('--rtmp-port', '70000'), {}), /--rtmp-port must be ≤ 65535/);
    bad(
      () => loadConfig('all', flags('--publish-auth', 'maybe'), {}),
      /--publish-auth must be one of open, keys/,
    );
    bad(
      () => loadConfig('all', flags(), { RELAYCAST_HLS_WINDOW: 'six' }),
      /RELAYCAST_HLS_WINDOW must be a whole number/,
    );
    bad(() => loadConfig('all', flags('--play-auth', 'signed'), {}), /needs --play-secret/);
    bad(() => loadConfig('edge', flags(), {}), /edge role needs --redis-url/);
    // signed play in a cluster needs the cluster token, or the origins' internal port bypasses it
    for (const role of ['origin', 'edge'] as const)
      bad(
        () =>
          loadConfig(
            role,
            flags('--redis-url', 'redis://x', '--play-auth', 'signed', '--play-secret', 's'),
            {},
          ),
        /needs --cluster-token/,
      );
    assert.equal(
      loadConfig(
        'edge',
        flags(
          '--redis-url',
          'redis://x',
          '--play-auth',
          'signed',
          '--play-secret',
          's',
          '--cluster-token',
          't',
        ),
        {},
      ).clusterToken,
      't',
    );
    assert.equal(
      loadConfig('all', flags('--play-auth', 'signed', '--play-secret', 's'), {}).playAuth,
      'signed',
    );
    bad(
      () => loadConfig('all', flags('--hls-encryption', 'aes-128'), {}),
      /--hls-encryption aes-128.*--play-auth signed/,
    );
    // an origin serves no viewer: it needs no play secret to encrypt
    assert.equal(
      loadConfig('origin', flags('--redis-url', 'redis://x', '--hls-encryption', 'aes-128'), {})
        .hlsEncryption,
      'aes-128',
    );
    const enc = loadConfig(
      'all',
      flags('--hls-encryption', 'aes-128', '--play-auth', 'signed', '--play-secret', 's'),
      {},
    );
    assert.equal(enc.hlsEncryption, 'aes-128');
    assert.equal(enc.hlsKeyRotation, 10);
    assert.equal(enc.hlsMaxSegmentDurationMs, 2000, 'auto: max(2 s, 2 × the 1 s target)');
    assert.equal(loadConfig('all', flags('--hls-target-duration', '3'), {}).hlsMaxSegmentDurationMs, 6000);
    assert.equal(
      loadConfig('all', flags('--hls-max-segment-duration', '1'), {}).hlsMaxSegmentDurationMs,
      1000,
    );
    const dir = mkdtempSync(join(tmpdir(), 'rc-cfg-'));
    try {
      writeFileSync(join(dir, 'c.yaml'), 'rtmpPrt: 1\n');
      bad(() => loadConfig('all', flags('--config', join(dir, 'c.yaml')), {}), /unknown key 'rtmpPrt'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads static channels from the YAML file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-cfg-'));
    try {
      writeFileSync(
        join(dir, 'c.yaml'),
        'publishAuth: keys\nchannels:\n  - { name: studio1, key: "a-long-secret" }\n',
      );
      const cfg = loadConfig('all', flags('--config', join(dir, 'c.yaml')), {});
      assert.deepEqual(cfg.channels, [{ app: 'live', name: 'studio1', key: 'a-long-secret' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads channel sources (sources:) from the YAML file and refuses bad ones with the entry named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-cfg-'));
    const load = (yaml: string, ...argv: string[]) => {
      writeFileSync(join(dir, 'c.yaml'), yaml);
      return loadConfig('all', flags('--config', join(dir, 'c.yaml'), ...argv), {});
    };
    try {
      const cfg = load(
        'sources:\n  - { name: cctv1, url: "udp://239.1.1.1:5000?source=10.0.0.9" }\n  - { name: news, url: "rtp://0.0.0.0:6000", interface: 10.0.0.5 }\n',
        '--source-interface',
        '10.0.0.7',
        '--source-silence-timeout',
        '2.5',
      );
      assert.deepEqual(cfg.sources, [
        { app: 'live', name: 'cctv1', url: 'udp://239.1.1.1:5000?source=10.0.0.9' },
        { app: 'live', name: 'news', url: 'rtp://0.0.0.0:6000', interfaceAddress: '10.0.0.5' },
      ]);
      assert.equal(cfg.sourceInterface, '10.0.0.7');
      assert.equal(cfg.sourceSilenceTimeoutMs, 2500);
      assert.deepEqual(load('rtmpPort: 1935\n').sources, []);
      const bad = (yaml: string, re: RegExp) =>
        assert.throws(
          () => load(yaml),
          (e: unknown) => e instanceof RelaycastError && e.code === 'RC_CONFIG_INVALID' && re.test(e.message),
        );
      bad('sources:\n  - { name: a, url: "ftp://x/y.flv" }\n', /sources\[0\].*scheme ftp/);
      bad('sources:\n  - { name: a, url: "http://x/y.mp4" }\n', /sources\[0\].*HTTP-FLV stream/);
      assert.equal(
        load('sources:\n  - { name: a, url: "http://x/y.flv" }\n').sources[0]?.url,
        'http://x/y.flv',
      );
      bad('sources:\n  - { name: "a/b", url: "udp://127.0.0.1:5000" }\n', /sources\[0\].*stream name "a\/b"/);
      bad('sources:\n  - { name: a, url: "udp://127.0.0.1:5000", port: 1 }\n', /unknown key 'port'/);
      bad(
        'sources:\n  - { name: a, url: "udp://127.0.0.1:5000" }\n  - { name: a, url: "udp://127.0.0.1:5001" }\n',
        /two sources/,
      );
      bad('sources: udp://127.0.0.1:5000\n', /must be a list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RTMPS: --rtmps-port needs --tls-cert and --tls-key, from flags, env or the YAML file', () => {
    const bad = (f: () => unknown, re: RegExp) =>
      assert.throws(
        f,
        (e: unknown) => e instanceof RelaycastError && e.code === 'RC_CONFIG_INVALID' && re.test(e.message),
      );
    assert.equal(loadConfig('all', flags(), {}).rtmpsPort, 0, 'off by default');
    bad(
      () => loadConfig('all', flags('--rtmps-port', '1936'), {}),
      /--rtmps-port 1936 needs a certificate: add --tls-cert FILE and --tls-key FILE/,
    );
    bad(
      () => loadConfig('all', flags('--rtmps-port', '1936', '--tls-cert', 'c.pem'), {}),
      /add --tls-key FILE \(PEM/,
    );
    bad(
      () =>
        loadConfig('origin', flags('--redis-url', 'redis://x', '--tls-key', 'k.pem'), {
          RELAYCAST_RTMPS_PORT: '443',
        }),
      /--rtmps-port 443 needs a certificate: add --tls-cert FILE \(/,
    );
    bad(
      () => loadConfig('all', flags('--rtmps-port', '1935', '--tls-cert', 'c', '--tls-key', 'k'), {}),
      /both 1935/,
    );
    bad(() => loadConfig('all', flags('--rtmps-port', '70000'), {}), /--rtmps-port must be ≤ 65535/);
    const dir = mkdtempSync(join(tmpdir(), 'rc-cfg-'));
    try {
      writeFileSync(join(dir, 'c.yaml'), 'rtmpsPort: 1936\ntlsCert: /tls/tls.crt\ntlsKey: /tls/tls.key\n');
      const cfg = loadConfig('edge', flags('--config', join(dir, 'c.yaml'), '--redis-url', 'redis://x'), {});
      assert.deepEqual([cfg.rtmpsPort, cfg.tlsCert, cfg.tlsKey], [1936, '/tls/tls.crt', '/tls/tls.key']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // the control plane has no RTMP listener: the flags mean nothing there and are not enforced
    assert.equal(
      loadConfig('control-plane', flags('--redis-url', 'redis://x', '--rtmps-port', '1936'), {}).rtmpsPort,
      0,
    );
    assert.ok(renderHelp('origin').includes('--tls-cert'));
    assert.ok(!renderHelp('control-plane').includes('--rtmps-port'));
  });

  it('--workers takes a count or auto (one per core)', () => {
    assert.equal(loadConfig('all', flags('--workers', '2'), {}).workers, 2);
    assert.ok(loadConfig('all', flags('--workers', 'auto'), {}).workers >= 1);
    // the default is auto: one process per usable core
    assert.equal(loadConfig('all', flags(), {}).workers, Math.min(64, usableCores()));
    // a cgroup v2 CPU quota caps it (a Kubernetes CPU limit of 0.5 or 1 core: one process)
    assert.equal(usableCores('50000 100000\n'), 1);
    assert.equal(usableCores('100000 100000\n'), 1);
    assert.equal(usableCores('300000 100000\n'), Math.min(3, availableParallelism()));
    assert.equal(usableCores('max 100000\n'), availableParallelism());
    assert.equal(usableCores(undefined), availableParallelism());
    for (const bad of ['0', '65', '1.5', 'many'])
      assert.throws(
        () => loadConfig('all', flags('--workers', bad), {}),
        /--workers must be auto or a whole number/,
      );
  });

  it('--help lists the flags of a role with their env names, and only the flags that role uses', () => {
    const all = renderHelp('all');
    for (const f of [
      '--rtmp-port',
      '--http-port',
      '--admin-port',
      '--publish-auth',
      '--data-dir',
      'RELAYCAST_DATA_DIR',
    ])
      assert.ok(all.includes(f), f);
    // The all-in-one has no Redis, no internal port and no election flag: none is offered.
    for (const f of [
      '--redis-url',
      '--internal-port',
      '--leader-election',
      '--lease-name',
      '--cluster-token',
    ])
      assert.ok(!all.includes(`${f}\n`) && !all.includes(`${f} `), `all: ${f}`);
    const edge = renderHelp('edge');
    for (const f of ['--redis-url', '--http-port', '--hls-cache-bytes', '--control-plane'])
      assert.ok(edge.includes(f), f);
    for (const f of ['--internal-port', '--publish-auth', '--hls-window', '--data-dir', '--grpc-port'])
      assert.ok(!edge.includes(f), `edge: ${f}`);
    const origin = renderHelp('origin');
    for (const f of ['--internal-port', '--redis-url', '--publish-auth']) assert.ok(origin.includes(f), f);
    for (const f of ['--http-port', '--workers', '--grpc-port'])
      assert.ok(!origin.includes(f), `origin: ${f}`);
    const cp = renderHelp('control-plane');
    for (const f of ['--leader-election', '--grpc-port', '--redis-url']) assert.ok(cp.includes(f), f);
    for (const f of ['--rtmp-port', '--http-port', '--play-secret'])
      assert.ok(!cp.includes(f), `control-plane: ${f}`);
  });
});

describe('relaycast command', () => {
  const root = join(import.meta.dirname, '..');
  it('prints help, version, and clear errors', () => {
    const help = spawnSync(process.execPath, [join(root, 'cli/main.ts'), 'all', '--help'], {
      encoding: 'utf8',
    });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--rtmp-port/);
    assert.match(help.stdout, /in-memory registry; it is always its own leader/);
    const err = spawnSync(process.execPath, [join(root, 'cli/main.ts'), 'edge'], { encoding: 'utf8' });
    assert.equal(err.status, 2);
    assert.match(err.stderr, /edge role needs --redis-url.*RC_CONFIG_INVALID/);
  });

  it('the npm bin wrapper runs on an older system Node by re-running itself with node@24', {
    skip: !spawnSync('/usr/bin/node', ['--version']).stdout && 'no system node',
  }, () => {
    const r = spawnSync('/usr/bin/node', [join(root, 'cli/relaycast.js'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});
