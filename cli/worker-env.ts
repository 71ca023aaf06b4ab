/**
 * How a --workers viewer process knows what it is and where its main process is: environment
 * variables set at fork. Kept apart so cli/main.ts can tell a worker from a role cheaply, before
 * loading either's modules.
 */
import cluster from 'node:cluster';

export const RELAY_ENV = 'RELAYCAST_WORKER_RELAY';
export const RELAY_TOKEN_ENV = 'RELAYCAST_WORKER_RELAY_TOKEN';
/** The main process's loopback WHEP server, for workers to relay WHEP requests to. */
export const WHEP_ENV = 'RELAYCAST_WORKER_WHEP';

export function isViewerWorker(): boolean {
  return cluster.isWorker && !!process.env[RELAY_ENV];
}
