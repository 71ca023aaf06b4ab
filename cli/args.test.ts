/**
 * Command-line parsing as users type it: declared option types (a switch never swallows the next
 * word), unknown flags are errors that name the flag and point to --help, for every command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseCommandArgs, UsageError } from '../core/args.ts';

const MAIN = join(import.meta.dirname, 'main.ts');
// Port 1 on loopback: nothing listens, so a command that got past parsing fails to connect.
const NOWHERE = ['--control-plane', '127.0.0.1:1', '--timeout', '2'];

function relaycast(...args: string[]) {
  const env = { ...process.env };
  delete env.RELAYCAST_CONTROL_PLANE;
  delete env.RELAYCAST_PLAY_SECRET;
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, env });
}

describe('parseCommandArgs', () => {
  const options = { json: { type: 'boolean' }, app: { type: 'string' } } as const;

  it('keeps a word after a switch as a positional', () => {
    const { positionals, flags } = parseCommandArgs(['--json', 'live/x'], options, 'stream get', 1);
    assert.deepEqual(positionals, ['live/x']);
    assert.equal(flags.get('json'), true);
  });

  it('names an unknown flag and points to --help', () => {
    assert.throws(
      () => parseCommandArgs(['tv1', '--sourse', 'udp://x'], options, 'channel create', 1),
      (e: unknown) =>
        e instanceof UsageError &&
        /unknown flag --sourse for 'relaycast channel create'/.test(e.message) &&
        /relaycast channel create --help/.test(e.message),
    );
  });

  it('refuses a missing value, a value on a switch and extra words', () => {
    assert.throws(() => parseCommandArgs(['--app'], options, 'c', 1), /--app needs a value/);
    assert.throws(() => parseCommandArgs(['--app', '--json'], options, 'c', 1), /--app needs a value/);
    assert.throws(() => parseCommandArgs(['--json=yes'], options, 'c', 1), /--json is a switch/);
    assert.throws(() => parseCommandArgs(['a', 'b'], options, 'c', 1), /unexpected argument 'b'/);
    assert.deepEqual(parseCommandArgs(['--app=tv'], options, 'c', 0).flags.get('app'), 'tv');
  });
});

describe('relaycast command line', () => {
  it('stream get --json APP/NAME reads APP/NAME as the stream, and errors under --json are JSON', () => {
    const r = relaycast('stream', 'get', '--json', 'live/x', ...NOWHERE);
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.match(out.error.message, /cannot reach the control plane at 127\.0\.0\.1:1/);
    assert.equal(out.error.code, 'GRPC_UNAVAILABLE');
  });

  it('admin commands refuse unknown flags before calling the control plane', () => {
    const r = relaycast('channel', 'create', 'tv1', '--sourse', 'udp://239.0.0.1:5000', ...NOWHERE);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown flag --sourse for 'relaycast channel create'/);
    assert.match(r.stderr, /--help/);
    assert.doesNotMatch(r.stderr, /cannot reach/);
    const node = relaycast('node', 'list', '--json', '--frobnicate', ...NOWHERE);
    assert.equal(node.status, 2);
    assert.match(JSON.parse(node.stdout).error.message, /unknown flag --frobnicate/);
    const extra = relaycast('channel', 'get', 'a', 'b', ...NOWHERE);
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /unexpected argument 'b'/);
    const help = relaycast('stream', 'switch', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /relaycast stream switch/);
  });

  it('roles refuse unknown flags and flags without values, naming them', () => {
    const r = relaycast('all', '--rtmp-prot', '1935');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown flag --rtmp-prot for 'relaycast all'.*--help/);
    const noValue = relaycast('edge', '--redis-url');
    assert.equal(noValue.status, 2);
    assert.match(noValue.stderr, /--redis-url needs a value/);
    const extra = relaycast('all', 'extra-word');
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /unexpected argument 'extra-word'/);
  });

  it('sign: --help exits 0; prints HTTP-FLV, HLS and RTMP play URLs; refuses unknown flags', () => {
    const help = relaycast('sign', '--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /relaycast sign <app>\/<name>/);
    const r = relaycast('sign', 'live/x', '--secret', 's3cret', '--base', 'http://edge.example:8080');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^http:\/\/edge\.example:8080\/live\/x\.flv\?expires=\d+&sig=[0-9a-f]{64}$/);
    assert.match(lines[1]!, /^http:\/\/edge\.example:8080\/live\/x\.m3u8\?expires=/);
    assert.match(lines[2]!, /^rtmp:\/\/edge\.example:1935\/live\/x\?expires=\d+&sig=[0-9a-f]{64}$/);
    assert.match(lines[3]!, /^http:\/\/edge\.example:8080\/live\/x\/ll\.m3u8\?expires=\d+&sig=[0-9a-f]{64}$/);
    const bad = relaycast('sign', 'live/x', '--secert', 's');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown flag --secert for 'relaycast sign'/);
  });
});
