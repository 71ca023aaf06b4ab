/**
 * Entry point of a `--workers` viewer process (WorkerPool forks this file, see workers.ts). Its
 * config is the main process's, as JSON in the environment, so a worker never re-parses an argv
 * or re-runs the script that started the main process.
 */
import type { Config } from '../core/config.ts';
import { CONFIG_ENV } from './worker-env.ts';

const raw = process.env[CONFIG_ENV];
if (!raw) {
  console.error(`relaycast: ${CONFIG_ENV} is not set; this file is started by --workers, not by hand`);
  process.exit(2);
}
const { config, version } = JSON.parse(raw) as { config: Config; version: string };
const { startViewerWorker } = await import('./viewer-worker.ts');
await startViewerWorker(config, version);
