/**
 * Observability against the real thing: promtool checks and unit-tests the rules and the /metrics
 * output; a real Prometheus scrapes relaycast (all-in-one, plus an origin and an edge on Redis)
 * while ffmpeg publishes and viewers play; every rule and every dashboard query must return data,
 * except alerts (which must not fire here).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { node, overview, stream } from '../deploy/grafana/generate.ts';
import { openFlv } from './helpers/flv-client.ts';
import {
  freePort,
  killAll,
  publish,
  type RelaycastProcess,
  ROOT,
  startRelaycast,
  track,
  waitFor,
} from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';

const RULES = join(ROOT, 'deploy', 'prometheus', 'relaycast-rules.yaml');
const RULE_TESTS = join(ROOT, 'deploy', 'prometheus', 'relaycast-rules.test.yaml');
const DASHBOARDS = {
  'relaycast-overview.json': overview,
  'relaycast-stream.json': stream,
  'relaycast-node.json': node,
};
const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}

function ruleList(): Rule[] {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe('rules and dashboards (static)', {
  skip: !hasPrometheus && 'prometheus/promtool not installed (apt-get install prometheus)',
}, () => {
  it('promtool check rules and promtool test rules pass', () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const test = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    assert.equal(test.status, 0, test.stdout + test.stderr);
    const alerts = ruleList()
      .filter((r) => r.alert)
      .map((r) => r.alert);
    const tested = readFileSync(RULE_TESTS, 'utf8');
    for (const a of alerts) assert.ok(tested.includes(`alertname: ${a}`), `${a} has a unit test`);
  });

  it('dashboards are valid Grafana JSON, match their generator, use the datasource variable', () => {
    for (const [file, generated] of Object.entries(DASHBOARDS)) {
      const d = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', file), 'utf8')) as {
        schemaVersion: number;
        uid: string;
        panels: {
          id: number;
          datasource: { uid: string };
          targets: { expr: string; datasource: { uid: string } }[];
        }[];
        templating: { list: { name: string; type: string }[] };
      };
      assert.deepEqual(
        d,
        JSON.parse(JSON.stringify(generated)),
        `${file} is stale: run node deploy/grafana/generate.ts`,
      );
      assert.ok(d.schemaVersion >= 36);
      assert.ok(d.uid);
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
      assert.ok(d.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
      const dsVariable = `$${'{datasource}'}`; // Grafana's variable syntax, not a template literal
      for (const p of d.panels) {
        assert.equal(p.datasource.uid, dsVariable);
        for (const t of p.targets) assert.equal(t.datasource.uid, dsVariable);
      }
    }
  });
});

describe('against a real Prometheus', {
  timeout: 240_000,
  skip: !hasPrometheus && 'prometheus not installed',
}, () => {
  let all: RelaycastProcess;
  let origin: RelaycastProcess;
  let edge: RelaycastProcess;
  let promPort: number;
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-prom-'));
  const reads: { close(): void }[] = [];

  before(async () => {
    const redis = await startRedis();
    all = await startRelaycast('all');
    const cluster = ['--redis-url', redis.url, '--lease-ttl', '2'];
    origin = await startRelaycast('origin', [...cluster, '--http-port', '0', '--grpc-port', '0']);
    // with viewer threads, so the per-thread series (relaycast_worker_*) reach Prometheus too
    edge = await startRelaycast('edge', [
      ...cluster,
      ...['--internal-port', '0', '--grpc-port', '0', '--workers', '2'],
    ]);
    publish(`rtmp://127.0.0.1:${all.ports.rtmp}/live/obs`, { size: '320x240' });
    publish(`rtmp://127.0.0.1:${origin.ports.rtmp}/live/obs`, { size: '320x240' });
    promPort = await freePort();
    const targets = [all, origin, edge].map((n) => `127.0.0.1:${n.ports.admin}`);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${RULES}\nscrape_configs:\n  - job_name: relaycast\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n`,
    );
    track(
      spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        {
          stdio: 'ignore',
        },
      ),
    );
    await waitFor(
      'prometheus ready',
      async () => ((await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok ? true : undefined),
      30_000,
      250,
    );
    // viewers: FLV on the all-in-one and through the edge, HLS through the edge
    await waitFor(
      'streams live',
      async () => {
        const a = await fetch(`http://127.0.0.1:${all.ports.http}/live/obs.flv`, { method: 'HEAD' });
        const e = await fetch(`http://127.0.0.1:${edge.ports.http}/live/obs.flv`, { method: 'HEAD' });
        return a.ok && e.ok ? true : undefined;
      },
      30_000,
      250,
    );
    reads.push(await openFlv(`http://127.0.0.1:${all.ports.http}/live/obs.flv`));
    reads.push(await openFlv(`http://127.0.0.1:${edge.ports.http}/live/obs.flv`));
    await waitFor(
      'HLS through the edge',
      async () => ((await fetch(`http://127.0.0.1:${edge.ports.http}/live/obs.m3u8`)).ok ? true : undefined),
      30_000,
      500,
    );
  });
  after(async () => {
    for (const r of reads) r.close();
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (expr: string) => {
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  };

  it('every /metrics output passes promtool check metrics', async () => {
    for (const n of [all, origin, edge]) {
      const text = await (await fetch(`http://127.0.0.1:${n.ports.admin}/metrics`)).text();
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  it('every recording rule and dashboard query returns data; no alert fires', async () => {
    const exprs: { where: string; expr: string; mayBeEmpty: boolean }[] = [];
    for (const r of ruleList())
      exprs.push({ where: r.record ?? r.alert!, expr: r.expr, mayBeEmpty: !!r.alert });
    for (const [file, d] of Object.entries(DASHBOARDS)) {
      for (const p of (d as { panels: { title: string; targets: { expr: string }[] }[] }).panels) {
        for (const t of p.targets) {
          exprs.push({
            where: `${file}: ${p.title}`,
            expr: t.expr.replaceAll('$stream', 'obs').replaceAll('$instance', '.+'),
            mayBeEmpty: false,
          });
        }
      }
    }
    // Recording rules are evaluated every 15 s and rates need a few scrapes: poll until all have data.
    const missing = await waitFor(
      'every non-alert expression to have data',
      async () => {
        const empty: string[] = [];
        for (const e of exprs)
          if (!e.mayBeEmpty && (await query(e.expr)).length === 0) empty.push(`${e.where}: ${e.expr}`);
        return empty.length === 0 ? [] : undefined;
      },
      120_000,
      2000,
    ).catch(async (err: Error) => {
      const empty: string[] = [];
      for (const e of exprs)
        if (!e.mayBeEmpty && (await query(e.expr)).length === 0) empty.push(`${e.where}: ${e.expr}`);
      throw new Error(`${err.message}\nstill empty:\n${empty.join('\n')}`);
    });
    assert.deepEqual(missing, []);
    for (const e of exprs.filter((x) => x.mayBeEmpty))
      assert.deepEqual(await query(e.expr), [], `${e.where} fires on a healthy system`);
  });
});
