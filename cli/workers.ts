/**
 * `--workers N`: HTTP viewers (HTTP-FLV, HLS, the player page) served by N worker threads, each
 * with its own event loop, listening on --http-port with SO_REUSEPORT so the kernel spreads new
 * connections over them and fan-out uses every core. The main thread keeps everything else (RTMP,
 * the registry, origin pulls, the control plane, admin) and serves its workers over a loopback relay
 * (core/internal-http.ts with a random token): a worker's pull of a stream is a viewer of the main
 * thread's hub, so each stream is still pulled from its origin once per node.
 *
 * Threads, not processes: a worker process repeated the node binary's pages, TypeScript stripping and
 * every loaded module (≈ 107 MB at rest); a thread adds ≈ 34 MB to the one process.
 *
 * Metrics: the main thread's /metrics merges its own registry with every worker's (prom-client's
 * AggregatorRegistry: counters and gauges summed per label set). Process metrics (CPU, RSS, file
 * descriptors) come from the main thread's registry only: they are the whole process's.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type MessagePort, parentPort, Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

import type { Config } from '../core/config.ts';
import { InternalHttpServer } from '../core/internal-http.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { listenOn } from '../core/net-limits.ts';
import type { HlsSource, LlHlsSource, StreamSource } from '../core/sources.ts';
import type { ViewerHttpOptions, ViewerHttpServer } from '../edge/viewer-http.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { WorkerData } from './worker-env.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./viewer-worker-entry.ts', import.meta.url));

/**
 * V8's young generation in a viewer worker: 6 MB (2 MB semi-spaces) instead of V8's default of up
 * to 48 MB, which a worker grows to under a join storm and then keeps. Measured with worker
 * processes (--max-semi-space-size=2, the same size): 5000 viewers of a 2.65 Mbit/s stream over 2
 * workers (C swarm), the workers' heaps 247 -> 124 MB in total, CPU 79.9 -> 80.6 % of a core, first
 * byte unchanged.
 */
const WORKER_YOUNG_GENERATION_MB = 6;

type ToWorker =
  | { type: 'stop-accepting' }
  | { type: 'resume-accepting' }
  | { type: 'metrics'; id: number }
  | { type: 'close' };
type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'viewers'; count: number }
  | { type: 'metrics'; id: number; json: MetricJson[] }
  | { type: 'fatal'; message: string; code?: string; port?: number; address?: string };

/** Viewers of a hub that are people, not a worker's relay pull. */
export function nonRelayViewers(hub: StreamHub): number {
  let n = 0;
  for (const s of hub.list()) for (const v of s.viewers) if (v.protocol !== 'pull') n++;
  return n;
}

/** What serves HTTP viewers: a ViewerHttpServer in this process, or a WorkerPool of them. */
export type ViewerFrontend = Pick<
  ViewerHttpServer,
  'listen' | 'stopAccepting' | 'resumeAccepting' | 'closeAllConnections' | 'close'
>;

interface Slot {
  index: number;
  worker: Worker;
  viewers: number;
  listening: boolean;
  /** false once the thread has exited */
  alive: boolean;
  restarts: number;
}

export class WorkerPool {
  private readonly config: Config;
  private readonly version: string;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly relay: InternalHttpServer;
  private readonly token = randomBytes(24).toString('hex');
  private readonly slots: Slot[] = [];
  private stopping = false;
  private metricsSeq = 0;
  private readonly pendingMetrics = new Map<
    number,
    { want: number; got: MetricJson[][]; done: () => void }
  >();
  /** The first worker's start-up failure (a busy port: its errno fields, for the one-line error). */
  private firstFatal: (Error & { code?: string; port?: number; address?: string }) | undefined;
  /** WHEP for the workers' viewers, served here on loopback (see serveWhep). */
  private whep: ViewerHttpServer | undefined;
  private port = 0;
  private relayUrl = '';
  private whepUrl: string | undefined;

  constructor(
    config: Config,
    version: string,
    hub: StreamHub,
    source: StreamSource,
    hls: HlsSource | undefined,
    listStreams: () => Promise<{ app: string; name: string }[]>,
    metrics: Metrics,
    log: Logger,
    /** LL-HLS for the workers' viewers (the all-in-one's packager, an edge's proxy). */
    llhls?: LlHlsSource,
  ) {
    this.config = config;
    this.version = version;
    this.metrics = metrics;
    this.log = log.child({ component: 'workers' });
    this.relay = new InternalHttpServer(
      hub,
      source,
      hls,
      {
        host: '127.0.0.1',
        port: 0,
        clusterToken: this.token,
        listStreams,
        serveKeys: true,
        ...(llhls ? { llhls } : {}),
      },
      metrics,
      log,
    );
  }

  /**
   * WHEP sessions stay in the main thread (the streams, the node's one UDP port); `make` builds the
   * loopback viewer server the workers relay WHEP requests to, trusting the viewer address they pass.
   */
  serveWhep(make: (over: Partial<ViewerHttpOptions>) => ViewerHttpServer): void {
    this.whep = make({
      host: '127.0.0.1',
      port: 0,
      maxConnectionsPerIp: 0, // every request comes from a worker over loopback
      trustedClient: { token: this.token },
    });
  }

  get size(): number {
    return this.config.workers;
  }

  /** The worker threads now running (tests end one to check that it is replaced). */
  threads(): Worker[] {
    return this.slots.filter((s) => s.alive).map((s) => s.worker);
  }

  /** Starts the relay and the workers; resolves with the shared HTTP port once all listen. */
  async listen(): Promise<number> {
    // A busy --http-port fails here, at once and as in one process, not in every worker later.
    // (Every worker sets SO_REUSEPORT; this probe does not, so it fails on any socket bound there.)
    if (this.config.httpPort) {
      const probe = createServer();
      await listenOn(probe, this.config.httpPort, this.config.host);
      await new Promise<void>((r) => probe.close(() => r()));
    }
    this.relayUrl = `http://127.0.0.1:${await this.relay.listen()}`;
    if (this.whep) this.whepUrl = `http://127.0.0.1:${await this.whep.listen()}`;
    // --http-port 0: the first worker picks the port, the others join it.
    const first = this.config.httpPort ? this.config.workers : 1;
    for (let i = 0; i < first; i++) this.fork(i);
    await this.allListening();
    if (first < this.config.workers) {
      for (let i = first; i < this.config.workers; i++) this.fork(i);
      await this.allListening();
    }
    this.log.info({ workers: this.config.workers, relay: this.relayUrl }, 'viewer workers listening');
    return this.port;
  }

  private async allListening(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!this.slots.every((s) => s.listening)) {
      if (this.firstFatal) {
        // Nobody is served yet: stop the others at once instead of waiting for them to boot.
        this.stopping = true;
        await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
        throw this.firstFatal;
      }
      if (Date.now() > deadline) throw new Error('viewer workers did not start listening within 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private fork(index: number, restarts = 0): void {
    const workerData: WorkerData = {
      config: { ...this.config, httpPort: this.port || this.config.httpPort },
      version: this.version,
      index,
      relay: this.relayUrl,
      token: this.token,
      ...(this.whepUrl ? { whep: this.whepUrl } : {}),
    };
    const worker = new Worker(WORKER_ENTRY, {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    const slot: Slot = { index, worker, viewers: 0, listening: false, alive: true, restarts };
    this.slots[index] = slot;
    // an uncaught error in the thread: logged with its stack; 'exit' follows and restarts it
    worker.on('error', (err) => this.log.error({ worker: index, err }, 'viewer worker failed'));
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'listening') {
        slot.listening = true;
        this.port = m.port;
      } else if (m.type === 'viewers') {
        slot.viewers = m.count;
        this.metrics.workerViewers.set({ worker: String(index) }, m.count);
      } else if (m.type === 'metrics') {
        const p = this.pendingMetrics.get(m.id);
        if (p) {
          p.got.push(m.json);
          if (p.got.length >= p.want) p.done();
        }
      } else if (m.type === 'fatal')
        this.firstFatal ??= Object.assign(new Error(`a viewer worker failed to start: ${m.message}`), {
          code: m.code,
          port: m.port,
          address: m.address,
        });
    });
    worker.on('exit', (code) => {
      slot.alive = false;
      slot.viewers = 0;
      this.metrics.workerViewers.set({ worker: String(index) }, 0);
      slot.listening = false;
      if (this.stopping) return;
      // A crashed worker loses its viewers (they reconnect); the others are unaffected.
      const delay = Math.min(5000, 200 * 2 ** Math.min(restarts, 5));
      this.log.error({ worker: index, code, restartInMs: delay }, 'viewer worker exited; restarting');
      setTimeout(() => {
        if (!this.stopping) this.fork(index, restarts + 1);
      }, delay).unref();
    });
  }

  viewerCount(): number {
    let n = 0;
    for (const s of this.slots) n += s.viewers;
    return n;
  }

  private broadcast(m: ToWorker): void {
    for (const s of this.slots) if (s.alive) s.worker.postMessage(m);
  }

  /** Metrics of the main thread and every worker, merged (sums per label set). */
  async metricsText(own: Metrics): Promise<string> {
    const live = this.slots.filter((s) => s.alive);
    const id = ++this.metricsSeq;
    const got: MetricJson[][] = [];
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.pendingMetrics.set(id, {
        want: live.length,
        got,
        done: () => {
          clearTimeout(t);
          resolve();
        },
      });
      if (live.length === 0) resolve();
      for (const s of live) s.worker.postMessage({ type: 'metrics', id } satisfies ToWorker);
    });
    this.pendingMetrics.delete(id);
    const merged = AggregatorRegistry.aggregate([await own.registry.getMetricsAsJSON(), ...got]);
    return merged.metrics();
  }

  stopAccepting(): void {
    this.broadcast({ type: 'stop-accepting' });
    this.whep?.stopAccepting();
  }

  resumeAccepting(): void {
    this.broadcast({ type: 'resume-accepting' });
    this.whep?.resumeAccepting();
  }

  /** Each worker closes its own viewer connections when told to close. */
  closeAllConnections(): void {}

  async close(): Promise<void> {
    this.stopping = true;
    this.broadcast({ type: 'close' });
    const deadline = Date.now() + 3000;
    while (this.slots.some((s) => s.alive) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await Promise.all(this.slots.filter((s) => s.alive).map((s) => s.worker.terminate()));
    await this.whep?.close();
    await this.relay.close();
  }
}

/** Worker side: report listening and viewer counts, answer metrics requests, close when told. */
export function workerChannel(handlers: {
  metricsJson: () => Promise<MetricJson[]>;
  viewerCount: () => number;
  stopAccepting: () => void;
  resumeAccepting: () => void;
  close: () => Promise<void>;
}): { listening(port: number): void; fatal(err: unknown): void } {
  const port = parentPort as MessagePort;
  const send = (m: FromWorker) => port.postMessage(m);
  const timer = setInterval(() => send({ type: 'viewers', count: handlers.viewerCount() }), 500);
  timer.unref();
  const exit = async () => {
    clearInterval(timer);
    const hard = setTimeout(() => process.exit(0), 2500);
    hard.unref();
    await handlers.close().catch(() => undefined);
    process.exit(0); // in a worker thread: ends this thread
  };
  port.on('message', (m: ToWorker) => {
    if (m.type === 'stop-accepting') handlers.stopAccepting();
    else if (m.type === 'resume-accepting') handlers.resumeAccepting();
    else if (m.type === 'close') void exit();
    else if (m.type === 'metrics')
      void handlers.metricsJson().then((json) => send({ type: 'metrics', id: m.id, json }));
  });
  return {
    listening: (p) => send({ type: 'listening', port: p }),
    fatal: (err) => {
      const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
      send({
        type: 'fatal',
        message: e?.message ?? String(err),
        code: e?.code,
        port: e?.port,
        address: e?.address,
      });
    },
  };
}
