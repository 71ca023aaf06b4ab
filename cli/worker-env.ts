/**
 * How a --workers viewer process knows what it is and where its main process is: environment
 * variables set at fork. Kept apart so a worker's entry (viewer-worker-entry.ts) loads none of the
 * main process's modules.
 */
export const RELAY_ENV = 'RELAYCAST_WORKER_RELAY';
export const RELAY_TOKEN_ENV = 'RELAYCAST_WORKER_RELAY_TOKEN';
/** The main process's loopback WHEP server, for workers to relay WHEP requests to. */
export const WHEP_ENV = 'RELAYCAST_WORKER_WHEP';
/**
 * The main process's resolved config and version as JSON. A worker runs cli/viewer-worker-entry.ts
 * with this, not the main process's script and argv: whatever started the main process (the CLI, a
 * test or a program that calls startAll) a worker is only ever a viewer worker.
 */
export const CONFIG_ENV = 'RELAYCAST_WORKER_CONFIG';
