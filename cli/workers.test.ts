import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerExecArgv } from './workers.ts';

describe('workerExecArgv', () => {
  it("passes the main process's node flags on, less the test runner's, plus a small young generation", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps', '--test-reporter=spec', '--test']), [
      '--enable-source-maps',
      '--max-semi-space-size=2',
    ]);
  });
  it('keeps a --max-semi-space-size the main process was given, in either spelling', () => {
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=8']), ['--max-semi-space-size=8']);
    assert.deepEqual(workerExecArgv(['--max_semi_space_size=8']), ['--max_semi_space_size=8']);
    assert.deepEqual(workerExecArgv(['--max-semi-space-size', '8']), ['--max-semi-space-size', '8']);
  });
});
