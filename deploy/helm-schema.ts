/**
 * Generates helm/relaycast/values.schema.json from values.yaml and its `## @param` comments:
 * every object is closed (`additionalProperties: false`) so a typo in a values file is an error,
 * except maps that pass through to Kubernetes (labels, resources, affinity…). Run:
 * `node deploy/helm-schema.ts` (a test checks the committed schema is current).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const CHART = join(import.meta.dirname, '..', 'helm', 'relaycast');

/** Paths (dot-separated, * = any key) whose objects are free-form. */
const FREE_FORM = [
  'commonLabels',
  'commonAnnotations',
  'config.extra',
  '*.podAnnotations',
  '*.podLabels',
  '*.nodeSelector',
  '*.affinity',
  '*.resources',
  '*.*.annotations',
  '*.*.labels',
  '*.*.*.labels',
  'podSecurityContext',
  'containerSecurityContext',
  'networkPolicy.monitoringNamespaceSelector',
];

const ENUMS: Record<string, string[]> = {
  'config.publishAuth': ['open', 'keys'],
  'config.playAuth': ['open', 'signed'],
  'config.logLevel': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  'image.pullPolicy': ['Always', 'IfNotPresent', 'Never'],
  'origin.service.type': ['LoadBalancer', 'NodePort', 'ClusterIP'],
  'edge.service.type': ['LoadBalancer', 'NodePort', 'ClusterIP'],
  'origin.service.externalTrafficPolicy': ['Cluster', 'Local'],
  'edge.service.externalTrafficPolicy': ['Cluster', 'Local'],
};

function matches(pattern: string, path: string): boolean {
  const a = pattern.split('.');
  const b = path.split('.');
  return a.length === b.length && a.every((p, i) => p === '*' || p === b[i]);
}

export function paramDocs(valuesText: string): Map<string, string> {
  const docs = new Map<string, string>();
  for (const m of valuesText.matchAll(/^\s*## @param (\S+) (.+)$/gm)) docs.set(m[1]!, m[2]!);
  return docs;
}

function schemaFor(value: unknown, path: string, docs: Map<string, string>): Record<string, unknown> {
  const description = docs.get(path);
  const base: Record<string, unknown> = description ? { description } : {};
  if (ENUMS[path]) return { ...base, type: 'string', enum: ENUMS[path] };
  if (Array.isArray(value)) return { ...base, type: 'array' };
  if (value === null) return base;
  if (typeof value === 'object') {
    if (FREE_FORM.some((p) => matches(p, path))) return { ...base, type: 'object' };
    const properties: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      properties[k] = schemaFor(v, path ? `${path}.${k}` : k, docs);
    return { ...base, type: 'object', additionalProperties: false, properties };
  }
  if (typeof value === 'number')
    return { ...base, type: Number.isInteger(value) ? 'integer' : 'number', minimum: 0 };
  if (typeof value === 'boolean') return { ...base, type: 'boolean' };
  return { ...base, type: 'string' };
}

export function generateSchema(): Record<string, unknown> {
  const text = readFileSync(join(CHART, 'values.yaml'), 'utf8');
  const values = parse(text) as Record<string, unknown>;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'relaycast chart values',
    ...schemaFor(values, '', paramDocs(text)),
  };
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(join(CHART, 'values.schema.json'), `${JSON.stringify(generateSchema(), null, 2)}\n`);
}

/** The parameter table for helm/relaycast/README.md, from the `## @param` comments. */
export function parameterTable(): string {
  const text = readFileSync(join(CHART, 'values.yaml'), 'utf8');
  const values = parse(text) as Record<string, unknown>;
  const rows = ['| Name | Description | Default |', '|---|---|---|'];
  for (const [key, desc] of paramDocs(text)) {
    let v: unknown = values;
    for (const k of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
    rows.push(`| \`${key}\` | ${desc.replace(/\|/g, '\\|')} | \`${JSON.stringify(v)}\` |`);
  }
  return rows.join('\n');
}
