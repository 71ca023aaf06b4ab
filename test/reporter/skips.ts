/**
 * node:test reporter: node's own spec output, plus the list of every skipped test or suite with
 * its reason, printed right before the closing summary (which stays node's: `ℹ tests N`, `ℹ pass
 * N`, `ℹ fail N`, … as the last lines). Suites that need ffmpeg, Prometheus, Chromium or root skip
 * themselves where those are missing; this makes that visible instead of a silent green run.
 *
 * - With `CI=true` (or `CI=1`) a skip is a failure: the closing `fail` count includes the skips
 *   and the run exits 1.
 * - node's `skipped` count misses whole skipped suites (`describe(…, { skip })`): they are listed
 *   (and counted as failures in CI) here.
 * - With `RELAYCAST_SKIP_SUMMARY=FILE`, skips are also appended to FILE and the list shows those of
 *   the earlier runs too, so `npm test` (unit run, then e2e run) ends with all of them.
 *
 * Use: `node --test --test-reporter=./test/reporter/skips.ts --test-reporter-destination=stdout …`
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Readable } from 'node:stream';
import { spec } from 'node:test/reporters';

export interface SkipRecord {
  file: string;
  /** The test's name (a suite's is marked "suite: …"). */
  name: string;
  reason: string;
}

/** The subset of node:test reporter events this reporter reads or emits. */
export interface ReporterEvent {
  type: string;
  data: {
    name?: string;
    nesting?: number;
    file?: string;
    message?: string;
    skip?: string | boolean;
    details?: { type?: string };
    [k: string]: unknown;
  };
}

export function isCi(env: NodeJS.ProcessEnv): boolean {
  const v = (env.CI ?? '').toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

/** A skipped test or suite, or undefined for any other event. */
export function skipOf(event: ReporterEvent, cwd: string): SkipRecord | undefined {
  if (event.type !== 'test:pass' || event.data.skip === undefined || event.data.skip === false)
    return undefined;
  const reason = typeof event.data.skip === 'string' && event.data.skip ? event.data.skip : 'no reason given';
  const name = event.data.details?.type === 'suite' ? `suite: ${event.data.name}` : String(event.data.name);
  return { file: event.data.file ? relative(cwd, event.data.file) : '?', name, reason };
}

/** The lines listing the skips (and what CI=true makes of them). */
export function skipReport(skips: readonly SkipRecord[], ci: boolean): string[] {
  if (skips.length === 0) return ['no tests skipped'];
  const lines = [
    `${skips.length} skipped ${skips.length === 1 ? 'test or suite' : 'tests or suites'}${ci ? ' — a failure with CI=true: install what they need' : ''}:`,
  ];
  for (const s of skips) lines.push(`  skipped ${s.file} › ${s.name} — ${s.reason}`);
  return lines;
}

/**
 * Passes events through, collects skips, and before node's closing summary (its `tests N`
 * diagnostic) inserts the skip list as diagnostics. In CI mode the `fail N` line counts the skips.
 */
export async function* withSkipReport(
  source: AsyncIterable<ReporterEvent>,
  options: { ci: boolean; cwd: string; earlier?: readonly SkipRecord[]; onSkips?: (s: SkipRecord[]) => void },
): AsyncGenerator<ReporterEvent> {
  const skips: SkipRecord[] = [];
  let reported = false;
  const report = (): ReporterEvent[] => {
    reported = true;
    options.onSkips?.(skips);
    return skipReport([...(options.earlier ?? []), ...skips], options.ci).map((message) => ({
      type: 'test:diagnostic',
      data: { nesting: 0, message },
    }));
  };
  for await (const event of source) {
    const skip = skipOf(event, options.cwd);
    if (skip) skips.push(skip);
    if (
      event.type === 'test:diagnostic' &&
      event.data.nesting === 0 &&
      typeof event.data.message === 'string'
    ) {
      if (!reported && /^tests \d+$/.test(event.data.message)) yield* report();
      const fail = /^fail (\d+)$/.exec(event.data.message);
      if (fail && options.ci && skips.length > 0) {
        yield { ...event, data: { ...event.data, message: `fail ${Number(fail[1]) + skips.length}` } };
        continue;
      }
    }
    yield event;
  }
  if (!reported) yield* report();
}

function readEarlier(file: string | undefined): SkipRecord[] {
  if (!file || !existsSync(file)) return [];
  const text = readFileSync(file, 'utf8').trim();
  return text ? (JSON.parse(text) as SkipRecord[]) : [];
}

export default async function* skipsReporter(source: AsyncIterable<ReporterEvent>): AsyncGenerator<string> {
  const ci = isCi(process.env);
  const file = process.env.RELAYCAST_SKIP_SUMMARY || undefined;
  const earlier = readEarlier(file);
  let found: SkipRecord[] = [];
  const events = withSkipReport(source, {
    ci,
    cwd: process.cwd(),
    earlier,
    onSkips: (s) => {
      found = s;
    },
  });
  for await (const chunk of Readable.from(events).compose(new spec())) yield String(chunk);
  if (file) writeFileSync(file, JSON.stringify([...earlier, ...found]));
  if (ci && found.length > 0) process.exitCode = 1;
}
