/**
 * Entry point of a `--workers` viewer thread (WorkerPool starts this file, see workers.ts). Its
 * config is the main thread's, in workerData, so a worker never re-parses an argv or re-runs the
 * program that started the node.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import type { WorkerData } from './worker-env.ts';

if (isMainThread) {
  console.error('relaycast: this file is started as a thread by --workers, not by hand');
  process.exit(2);
}
const { startViewerWorker } = await import('./viewer-worker.ts');
await startViewerWorker(workerData as WorkerData);
