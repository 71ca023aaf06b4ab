/**
 * The Helm chart, checked offline for real: helm lint --strict, helm template with several values
 * files, helm package; every rendered object validated against Kubernetes (and
 * prometheus-operator) schemas; the wiring between objects; typos rejected by the schema.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { camel, OPTIONS } from '../../core/config.ts';
import { generateSchema, parameterTable } from '../../deploy/helm-schema.ts';
import { ROOT } from '../helpers/process.ts';
import { CHART, helm } from './helm.ts';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are arbitrary JSON, checked field by field
type Json = any;
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Json;
  data?: Record<string, string>;
};

const VALUES = {
  defaults: [] as string[],
  production: ['-f', join(import.meta.dirname, 'values', 'production.yaml')],
  minimal: ['-f', join(import.meta.dirname, 'values', 'minimal.yaml')],
  rtmps: ['--set', 'rtmps.enabled=true', '--set', 'rtmps.existingSecret=live-tls', '--set', 'rtmps.port=443'],
};

function render(args: string[]): K8sObject[] {
  const r = helm(['template', 'rc', CHART, '--namespace', 'media', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => !!o);
}

async function validate(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const path =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${o.apiVersion}/${o.kind}`
      : `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
  const mod = (await import(path)) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const find = (objs: K8sObject[], kind: string, suffix: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const podSpec = (o: K8sObject) => o.spec.template.spec;
const matchesSelector = (labels: Record<string, string>, selector: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('helm chart', { timeout: 120_000 }, () => {
  it('helm lint --strict passes with every values file; helm package works', () => {
    for (const [name, args] of Object.entries(VALUES)) {
      const r = helm(['lint', '--strict', CHART, ...args]);
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'rc-helm-'));
    try {
      const r = helm(['package', CHART, '-d', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readdirSync(dir).some((f) => f === 'relaycast-0.1.0.tgz'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [name, args] of Object.entries(VALUES)) {
    it(`renders valid Kubernetes objects (${name})`, async () => {
      const objs = render(args);
      assert.ok(objs.length >= 8);
      for (const o of objs) await validate(o);
    });
  }

  it('wires containers, Services, probes, HPA, RBAC, NetworkPolicies and secrets together', () => {
    const objs = render(VALUES.production);
    const origin = find(objs, 'StatefulSet', '-origin')!;
    const edge = find(objs, 'Deployment', '-edge')!;
    const cp = find(objs, 'Deployment', '-control-plane')!;
    assert.equal(cp.spec.replicas, 2);
    // edges route through the control plane Service; the control plane elects through a Lease
    const cpService = find(objs, 'Service', '-control-plane')!;
    assert.ok(podSpec(edge).containers[0].args.includes(`--control-plane=${cpService.metadata.name}:50051`));
    assert.ok(podSpec(cp).containers[0].args.includes('--leader-election=kubernetes'));
    for (const w of [origin, edge, cp]) {
      const spec = podSpec(w);
      const c = spec.containers[0];
      const ports = new Map<string, number>(
        c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
      );
      // probes hit the admin port, which is what --admin-port says
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe])
        assert.equal(probe.httpGet.port, 'admin');
      assert.ok(c.args.includes(`--admin-port=${ports.get('admin')}`));
      if (ports.has('rtmp')) assert.ok(c.args.includes(`--rtmp-port=${ports.get('rtmp')}`));
      if (ports.has('http')) assert.ok(c.args.includes(`--http-port=${ports.get('http')}`));
      if (ports.has('internal')) assert.ok(c.args.includes(`--internal-port=${ports.get('internal')}`));
      if (ports.has('grpc')) assert.ok(c.args.includes(`--grpc-port=${ports.get('grpc')}`));
      // hardened
      assert.equal(spec.securityContext.runAsNonRoot, true);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      assert.ok(
        w.spec.template.metadata.annotations['checksum/config'],
        'config checksum rolls pods on change',
      );
      // secrets come from the Secret the CLI's env names read
      const env = new Map<string, Json>(c.env.map((e: { name: string }) => [e.name, e]));
      for (const k of ['RELAYCAST_PLAY_SECRET', 'RELAYCAST_ADMIN_TOKEN', 'RELAYCAST_CLUSTER_TOKEN'])
        assert.equal(env.get(k).valueFrom.secretKeyRef.name, 'relaycast-prod-secrets');
      assert.match(
        env.get('RELAYCAST_REDIS_URL').value,
        /^redis-sentinel:\/\/sentinel-0\.redis:26379,.*\/relaycast$/,
      );
      // every flag the chart passes exists in the CLI
      for (const a of c.args.slice(1)) {
        const flag = /^--([a-z-]+)=/.exec(a)?.[1];
        if (flag) assert.ok(flag in OPTIONS, `unknown flag --${flag}`);
      }
      // every Service for this workload targets a named port the container has
      for (const svc of byKind(objs, 'Service').filter((s) =>
        matchesSelector(w.spec.template.metadata.labels, s.spec.selector),
      )) {
        for (const p of svc.spec.ports)
          assert.ok(ports.has(p.targetPort), `${svc.metadata.name} targets ${p.targetPort}`);
      }
    }
    const hpa = byKind(objs, 'HorizontalPodAutoscaler')[0]!;
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: edge.metadata.name,
    });
    assert.ok(hpa.spec.metrics.some((m: { type: string }) => m.type === 'Pods'));
    const role = byKind(objs, 'Role')[0]!;
    assert.deepEqual(role.spec ?? (role as Json).rules, [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    const binding = byKind(objs, 'RoleBinding')[0] as Json;
    assert.equal(binding.subjects[0].name, podSpec(cp).serviceAccountName);
    // only edges reach the origins' internal port
    const originPolicy = find(objs, 'NetworkPolicy', '-origin')!;
    assert.ok(
      matchesSelector(origin.spec.template.metadata.labels, originPolicy.spec.podSelector.matchLabels),
    );
    const internalRule = originPolicy.spec.ingress.find((r: { ports: { port: number }[] }) =>
      r.ports.some((p) => p.port === 8081),
    );
    assert.equal(internalRule.from.length, 1);
    assert.ok(
      matchesSelector(edge.spec.template.metadata.labels, internalRule.from[0].podSelector.matchLabels),
    );
    assert.ok(
      !matchesSelector(origin.spec.template.metadata.labels, internalRule.from[0].podSelector.matchLabels),
    );
    const cpPolicy = find(objs, 'NetworkPolicy', '-control-plane')!;
    const grpcRule = cpPolicy.spec.ingress.find((r: { ports: { port: number }[] }) =>
      r.ports.some((p) => p.port === 50051),
    );
    assert.deepEqual(grpcRule.from[1], { ipBlock: { cidr: '10.20.0.0/16' } });
    // ingress disables buffering for HTTP-FLV
    assert.equal(
      find(objs, 'Ingress', '-edge')!.metadata.annotations!['nginx.ingress.kubernetes.io/proxy-buffering'],
      'off',
    );
    // edges drain: grace period covers the drain timeout
    assert.ok(podSpec(edge).terminationGracePeriodSeconds > 30);
    assert.ok(edge.spec.template.spec.containers[0].args.includes('--drain-timeout=30'));
    // monitoring objects
    assert.ok(byKind(objs, 'ServiceMonitor').length === 1);
    const rule = byKind(objs, 'PrometheusRule')[0]!;
    assert.ok(JSON.stringify(rule.spec).includes('RelaycastOriginDown'));
    assert.equal(
      byKind(objs, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1').length,
      3,
    );
  });

  it('generates the Secret when none is given, and the bundled Redis is only reachable from relaycast pods', () => {
    const objs = render(['--set', 'config.publishAuth=open']);
    const secret = byKind(objs, 'Secret')[0]!;
    for (const k of ['play-secret', 'admin-token', 'cluster-token'])
      assert.ok(Buffer.from(secret.data![k]!, 'base64').length >= 32, k);
    const redisPolicy = find(objs, 'NetworkPolicy', '-redis')!;
    assert.deepEqual(redisPolicy.spec.ingress[0].from[0].podSelector.matchLabels, {
      'app.kubernetes.io/instance': 'rc',
    });
    const edge = find(objs, 'Deployment', '-edge')!;
    const redisUrl = edge.spec.template.spec.containers[0].env.find(
      (e: { name: string }) => e.name === 'RELAYCAST_REDIS_URL',
    );
    assert.equal(redisUrl.value, `redis://rc-relaycast-redis:6379`);
    assert.ok(find(objs, 'Service', '-redis'));
  });

  it('RTMPS: origins and edges get the listener, the TLS Secret read-only, Service ports and NetworkPolicy', () => {
    const objs = render(VALUES.rtmps);
    for (const [w, svc, policy] of [
      [
        find(objs, 'StatefulSet', '-origin')!,
        find(objs, 'Service', '-origin-rtmp')!,
        find(objs, 'NetworkPolicy', '-origin')!,
      ],
      [
        find(objs, 'Deployment', '-edge')!,
        find(objs, 'Service', '-edge')!,
        find(objs, 'NetworkPolicy', '-edge')!,
      ],
    ] as const) {
      const spec = podSpec(w);
      const c = spec.containers[0];
      assert.ok(c.args.includes('--rtmps-port=1936'), w.metadata.name);
      assert.deepEqual(
        c.ports.find((p: { name: string }) => p.name === 'rtmps'),
        { name: 'rtmps', containerPort: 1936, protocol: 'TCP' },
      );
      const mount = c.volumeMounts.find((m: { name: string }) => m.name === 'tls');
      assert.equal(mount.readOnly, true);
      assert.equal(mount.subPath, undefined, 'a subPath mount would never see a renewed certificate');
      assert.ok(c.args.includes(`--tls-cert=${mount.mountPath}/tls.crt`));
      assert.ok(c.args.includes(`--tls-key=${mount.mountPath}/tls.key`));
      const volume = spec.volumes.find((v: { name: string }) => v.name === 'tls');
      assert.equal(volume.secret.secretName, 'live-tls');
      assert.deepEqual(
        svc.spec.ports.find((p: { name: string }) => p.name === 'rtmps'),
        { name: 'rtmps', port: 443, targetPort: 'rtmps', protocol: 'TCP' },
      );
      assert.ok(
        policy.spec.ingress.some(
          (r: Json) => !r.from && r.ports.some((p: { port: number }) => p.port === 1936),
        ),
        `${policy.metadata.name} lets clients reach 1936`,
      );
    }
    // the control plane serves no RTMP
    assert.ok(
      !podSpec(find(objs, 'Deployment', '-control-plane')!).containers[0].args.some((a: string) =>
        a.includes('rtmps'),
      ),
    );
    // off by default: nothing of it rendered
    const plain = JSON.stringify(render(VALUES.defaults));
    assert.ok(!plain.includes('rtmps') && !plain.includes('relaycast-tls'));
    const missing = helm(['template', 'rc', CHART, '--set', 'rtmps.enabled=true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /rtmps\.enabled needs rtmps\.existingSecret/);
  });

  it('the config file only uses keys the CLI knows', () => {
    const objs = render(VALUES.production);
    const cm = byKind(objs, 'ConfigMap').find((c) => c.metadata.name.endsWith('-config'))!;
    const known = new Set([...Object.keys(OPTIONS).map(camel), 'channels']);
    for (const line of cm.data!['config.yaml']!.split('\n')) {
      const key = /^([a-zA-Z]+):/.exec(line)?.[1];
      if (key) assert.ok(known.has(key), `config key ${key}`);
    }
  });

  it('rejects typos in values files', () => {
    const a = helm(['template', 'rc', CHART, '--set', 'orign.replicaCount=2']);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr, /additional properties 'orign' not allowed/);
    const b = helm(['template', 'rc', CHART, '--set', 'edge.replicas=3']);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /replicas/);
  });

  it('schema, parameter table and monitoring files are in sync with their sources', () => {
    assert.deepEqual(
      JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')),
      generateSchema(),
      'run node deploy/helm-schema.ts',
    );
    assert.ok(
      readFileSync(join(CHART, 'README.md'), 'utf8').includes(parameterTable()),
      'chart README parameter table is stale',
    );
    assert.equal(
      readFileSync(join(CHART, 'files', 'prometheus', 'relaycast-rules.yaml'), 'utf8'),
      readFileSync(join(ROOT, 'deploy', 'prometheus', 'relaycast-rules.yaml'), 'utf8'),
    );
    for (const f of readdirSync(join(ROOT, 'deploy', 'grafana')).filter((x) => x.endsWith('.json')))
      assert.equal(
        readFileSync(join(CHART, 'files', 'grafana', f), 'utf8'),
        readFileSync(join(ROOT, 'deploy', 'grafana', f), 'utf8'),
        f,
      );
  });
});

describe('container image', () => {
  const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  it('Dockerfile: pinned Node 24 slim, deps before sources, npm ci --omit=dev, non-root, entrypoint, ports match the chart', () => {
    assert.match(dockerfile, /^ARG BASE=node:24-slim$/m);
    assert.match(dockerfile, /^FROM \$\{BASE\}$/m);
    const lines = dockerfile.split('\n');
    const pkgCopy = lines.findIndex((l) => /^COPY package\.json package-lock\.json/.test(l));
    const srcCopy = lines.findIndex((l) => /^COPY (media|core|cli)/.test(l));
    assert.ok(
      pkgCopy > 0 && pkgCopy < srcCopy,
      'package files are copied before the sources (layer caching)',
    );
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER 10001/m);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "\/app\/cli\/main\.ts"\]$/m);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(' ').map(Number).sort();
    assert.deepEqual(exposed, [1935, 8080, 8081, 9090, 50051].sort());
    for (const copied of dockerfile.matchAll(/^COPY (\S+) \.\/\S*$/gm)) {
      if (copied[1] !== 'package.json')
        assert.ok(readdirSync(join(ROOT, copied[1]!)).length > 0, `${copied[1]} exists`);
    }
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    for (const x of ['node_modules', '.git', 'test'])
      assert.match(ignore, new RegExp(`^${x.replace('.', '\\.')}$`, 'm'));
  });

  // `--help` returns before the roles' imports load; test/image.test.ts and image-build.test.ts
  // start every role from the image's own files.
  it("the entrypoint's command line runs", () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'cli', 'main.ts'), 'edge', '--help'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--drain-timeout/);
  });
});
