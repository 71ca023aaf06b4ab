/**
 * `npm run fuzz [-- N]`: N inputs per parser (default 1 000 000), one JSON line per parser;
 * exits non-zero if any parser threw something other than MediaError.
 */
import fc from 'fast-check';
import { TARGETS } from './targets.ts';

const n = Number(process.argv[2] ?? 1_000_000);
const only = process.argv[3];
let failed = false;
for (const t of TARGETS) {
  if (only && t.name !== only) continue;
  const t0 = performance.now();
  const res = fc.check(t.property, { numRuns: n });
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  const out: Record<string, unknown> = {
    parser: t.name,
    inputs: res.numRuns,
    failures: res.failed ? 1 : 0,
    seconds,
  };
  if (res.failed) {
    failed = true;
    out.counterexample = fc.stringify(res.counterexample);
    out.error = String(res.errorInstance).slice(0, 500);
  }
  console.log(JSON.stringify(out));
}
process.exit(failed ? 1 : 0);
