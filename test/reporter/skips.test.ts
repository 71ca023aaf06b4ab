import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCi, type ReporterEvent, type SkipRecord, skipOf, skipReport, withSkipReport } from './skips.ts';

const REPORTER = fileURLToPath(new URL('./skips.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'relaycast-skips-'));
after(() => rmSync(work, { recursive: true, force: true }));

const pass = (name: string, extra: ReporterEvent['data'] = {}): ReporterEvent => ({
  type: 'test:pass',
  data: { name, nesting: 0, file: '/repo/test/x.test.ts', ...extra },
});
const diag = (message: string): ReporterEvent => ({ type: 'test:diagnostic', data: { nesting: 0, message } });
const closing = ['tests 3', 'suites 1', 'pass 1', 'fail 0', 'cancelled 0', 'skipped 1', 'todo 0'].map(diag);

async function collect(events: ReporterEvent[], ci: boolean, earlier: SkipRecord[] = []): Promise<string[]> {
  async function* source() {
    yield* events;
  }
  const out: string[] = [];
  for await (const e of withSkipReport(source(), { ci, cwd: '/repo', earlier }))
    out.push(e.type === 'test:diagnostic' ? `ℹ ${e.data.message}` : `${e.type} ${e.data.name}`);
  return out;
}

describe('skips reporter', () => {
  it('CI is on for CI=true/1/yes, off when unset, empty, 0 or false', () => {
    for (const v of ['true', '1', 'yes', 'TRUE']) assert.equal(isCi({ CI: v }), true, v);
    for (const v of [undefined, '', '0', 'false', 'False']) assert.equal(isCi({ CI: v }), false, String(v));
  });

  it('recognises skipped tests and suites with their reasons, and nothing else', () => {
    assert.deepEqual(skipOf(pass('chromium plays', { skip: 'chromium not installed' }), '/repo'), {
      file: 'test/x.test.ts',
      name: 'chromium plays',
      reason: 'chromium not installed',
    });
    assert.deepEqual(skipOf(pass('browser', { skip: 'no chromium', details: { type: 'suite' } }), '/repo'), {
      file: 'test/x.test.ts',
      name: 'suite: browser',
      reason: 'no chromium',
    });
    assert.equal(skipOf(pass('x', { skip: true }), '/repo')?.reason, 'no reason given');
    assert.equal(skipOf(pass('ran'), '/repo'), undefined);
    assert.equal(skipOf(pass('ran', { skip: false }), '/repo'), undefined);
    assert.equal(skipOf({ type: 'test:fail', data: { name: 'x', skip: 'y' } }, '/repo'), undefined);
  });

  it('lists the skips right before node closing summary, which stays last and unchanged without CI', async () => {
    const out = await collect(
      [pass('a', { skip: 'ffmpeg not installed' }), pass('b'), pass('c', { skip: 'needs root' }), ...closing],
      false,
    );
    assert.deepEqual(out, [
      'test:pass a',
      'test:pass b',
      'test:pass c',
      'ℹ 2 skipped tests or suites:',
      'ℹ   skipped test/x.test.ts › a — ffmpeg not installed',
      'ℹ   skipped test/x.test.ts › c — needs root',
      ...closing.map((e) => `ℹ ${e.data.message}`),
    ]);
  });

  it('with CI the fail count includes the skips (a skip is a failure); with none it says so', async () => {
    const out = await collect(
      [pass('a', { skip: 'no prometheus', details: { type: 'suite' } }), ...closing],
      true,
    );
    assert.ok(out.includes('ℹ fail 1'), out.join('\n'));
    assert.ok(!out.includes('ℹ fail 0'));
    assert.match(out[1]!, /a failure with CI=true/);
    const none = await collect([pass('b'), ...closing], true);
    assert.ok(none.includes('ℹ no tests skipped'));
    assert.ok(none.includes('ℹ fail 0'));
  });

  it('includes skips of earlier runs, and reports even when no closing summary came', async () => {
    const earlier = [{ file: 'media/x.test.ts', name: 'ffmpeg decodes', reason: 'ffmpeg not installed' }];
    const out = await collect([pass('a', { skip: 'needs root' })], false, earlier);
    assert.deepEqual(out.slice(1), [
      'ℹ 2 skipped tests or suites:',
      'ℹ   skipped media/x.test.ts › ffmpeg decodes — ffmpeg not installed',
      'ℹ   skipped test/x.test.ts › a — needs root',
    ]);
    assert.deepEqual(skipReport([], false), ['no tests skipped']);
  });

  it('under node --test: the list, node closing lines last, exit 1 only with CI=true; RELAYCAST_SKIP_SUMMARY carries skips over', () => {
    const file = join(work, 'sample.test.ts');
    writeFileSync(
      file,
      `import { describe, it } from 'node:test';
describe('needs chromium', { skip: 'chromium not installed' }, () => { it('plays', () => {}); });
it('needs root', (t) => { t.skip('not root'); });
it('runs', () => {});
`,
    );
    const summary = join(work, 'skips.json');
    writeFileSync(summary, '');
    // NODE_TEST_CONTEXT would make the inner run talk to this runner instead of printing.
    const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
    const runIt = (env: Record<string, string>) =>
      spawnSync(
        process.execPath,
        ['--test', `--test-reporter=${REPORTER}`, '--test-reporter-destination=stdout', file],
        {
          cwd: work,
          encoding: 'utf8',
          env: { ...parentEnv, CI: '', RELAYCAST_SKIP_SUMMARY: '', ...env },
          timeout: 60_000,
        },
      );
    const local = runIt({ RELAYCAST_SKIP_SUMMARY: summary });
    assert.equal(local.status, 0, local.stdout + local.stderr);
    assert.match(local.stdout, /ℹ 2 skipped tests or suites:\n/);
    assert.match(local.stdout, /skipped sample\.test\.ts › suite: needs chromium — chromium not installed/);
    assert.match(local.stdout, /skipped sample\.test\.ts › needs root — not root/);
    const lines = local.stdout.trim().split('\n');
    assert.match(lines.at(-5)!, /^ℹ fail 0$/);
    assert.match(lines.at(-1)!, /^ℹ duration_ms /);
    assert.equal(JSON.parse(readFileSync(summary, 'utf8')).length, 2);
    // a second run with the same summary file lists the first run's skips too
    const second = runIt({ RELAYCAST_SKIP_SUMMARY: summary });
    assert.match(second.stdout, /ℹ 4 skipped tests or suites:\n/);

    const ci = runIt({ CI: 'true' });
    assert.equal(ci.status, 1, ci.stdout + ci.stderr);
    assert.match(ci.stdout, /^ℹ fail 2$/m);
  });
});
