/**
 * What a --workers viewer thread is given at start (its workerData). Kept apart so a worker's entry
 * (viewer-worker-entry.ts) loads none of the main thread's modules.
 */
import type { Config } from '../core/config.ts';

export interface WorkerData {
  /**
   * The main thread's resolved config. A worker runs cli/viewer-worker-entry.ts with it, not the
   * main program's script and argv: whatever started the node (the CLI, a test or a program that
   * calls startAll), a worker is only ever a viewer worker.
   */
  config: Config;
  version: string;
  /** 0 .. workers-1: the `worker` label of its log lines and relaycast_worker_viewers */
  index: number;
  /** The main thread's loopback relay (core/internal-http.ts) and its bearer token. */
  relay: string;
  token: string;
  /** The main thread's loopback WHEP server, for workers to relay WHEP requests to. */
  whep?: string;
}
