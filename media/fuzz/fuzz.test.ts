/** A bounded fuzz run for npm test (RELAYCAST_FUZZ_RUNS per parser, default 300). */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TARGETS } from './targets.ts';

const runs = Number(process.env.RELAYCAST_FUZZ_RUNS ?? 300);

describe('fuzz: parsers only ever return or throw MediaError', () => {
  for (const t of TARGETS) {
    it(t.name, () => {
      fc.assert(t.property, { numRuns: runs });
    });
  }
});
