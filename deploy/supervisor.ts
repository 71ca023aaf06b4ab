/**
 * The process supervisor behind `npm run cluster` (deploy/cluster.ts holds the topology). It starts
 * each node as a child process and, once the cluster is up, keeps the others running when one dies,
 * so failover can be watched locally; `npm run cluster -- --restart <name>` from another terminal
 * asks the running launcher to start that node again with the same command and args.
 *
 * How the two processes talk: the launcher writes `<dataDir>/cluster.json` (mode 0600) on every
 * spawn and exit — its own PID, a control port and token, and each node's name, PID, command and
 * args — and listens on 127.0.0.1:<control port>. A client sends one JSON line
 * `{"token":…,"restart":"origin-1"}` and reads one back: `{"ok":true,"pid":…}` or
 * `{"ok":false,"error":…}`. TCP on loopback rather than a unix socket: a socket path is silently
 * truncated past 107 bytes, and some mounts (WSL, bind mounts) refuse sockets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** One process of the cluster, as the launcher starts it (and starts it again on --restart). */
export interface NodeSpec {
  name: string;
  command: string;
  args: string[];
  /** How to tell it is up: an HTTP URL answering 2xx, or a TCP port accepting connections. */
  ready: { http: string } | { tcp: number };
  /** The cluster cannot run without it (redis): its death stops everything. */
  essential?: boolean;
  cwd: string;
  env?: Record<string, string>;
}

/** What `<dataDir>/cluster.json` holds. */
export interface ClusterState {
  pid: number;
  control: { port: number; token: string };
  nodes: { name: string; pid: number | null; running: boolean; command: string; args: string[] }[];
}

interface Node {
  spec: NodeSpec;
  proc: ChildProcess;
  /** Set while --restart stops the old process, so its exit is not reported as a death. */
  restarting: boolean;
  /** Its last stdout lines, shown if it dies while the cluster starts (redis reports errors there). */
  lastOutput: string[];
}

const STOP_GRACE_MS = 6000;
const READY_TIMEOUT_MS = 20_000;

export const statePath = (dataDir: string) => join(dataDir, 'cluster.json');

const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;
const describeExit = (code: number | null, signal: NodeJS.Signals | null) => signal ?? `code ${code}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClusterSupervisor {
  private readonly nodes = new Map<string, Node>();
  private readonly restarts = new Map<string, Promise<number>>();
  private readonly token = randomBytes(16).toString('hex');
  private control?: Server;
  private controlPort = 0;
  /** False while starting: a node that dies then is a configuration problem, so everything stops. */
  private up = false;
  private stopping = false;

  private readonly dataDir: string;
  private readonly verbose: boolean;

  constructor(dataDir: string, verbose: boolean) {
    this.dataDir = dataDir;
    this.verbose = verbose;
  }

  /** Starts the control port; call before start() so cluster.json always names it. */
  async listen(): Promise<void> {
    const server = createServer((socket) => {
      let line = '';
      socket.setEncoding('utf8').on('data', (d: string) => {
        line += d;
        if (!line.includes('\n') && line.length < 4096) return;
        socket.removeAllListeners('data');
        void this.handleRequest(line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
      });
      socket.on('error', () => socket.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const addr = server.address();
    this.controlPort = typeof addr === 'object' && addr ? addr.port : 0;
    this.control = server;
    this.writeState();
  }

  /** Spawns a node; its stderr (and stdout with verbose) is shown prefixed with its name. */
  start(spec: NodeSpec): ChildProcess {
    const proc = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...spec.env },
    });
    const node: Node = { spec, proc, restarting: false, lastOutput: [] };
    this.nodes.set(spec.name, node);
    const prefix = (line: string) => (line ? `[${spec.name}] ${line}\n` : '');
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (this.verbose) process.stdout.write(d.split('\n').map(prefix).join(''));
      else node.lastOutput = [...node.lastOutput, ...d.split('\n').filter(Boolean)].slice(-5);
    });
    proc.stderr
      ?.setEncoding('utf8')
      .on('data', (d: string) => process.stderr.write(d.split('\n').map(prefix).join('')));
    proc.on('error', (err) => console.error(`[${spec.name}] could not start: ${err.message}`));
    proc.on('exit', (code, signal) => this.onExit(node, proc, code, signal));
    this.writeState();
    return proc;
  }

  /** Marks the cluster as up: from now on a node's death leaves the others running. */
  markUp(): void {
    this.up = true;
  }

  pid(name: string): number | undefined {
    return this.nodes.get(name)?.proc.pid;
  }

  /** Waits until the node answers its readiness check; throws if it exits or takes too long. */
  async waitReady(name: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`unknown node ${name}`);
    const { ready } = node.spec;
    const what = 'http' in ready ? ready.http : `127.0.0.1:${ready.tcp}`;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited(node.proc)) throw new Error(`${name} exited before it became ready at ${what}`);
      if ('http' in ready ? await httpOk(ready.http) : await tcpOpen(ready.tcp)) return;
      await sleep(200);
    }
    throw new Error(`${name} did not become ready at ${what} within ${timeoutMs / 1000} s`);
  }

  /** Stops every node by PID (SIGTERM, SIGKILL after a grace period) and exits with `code`. */
  async stop(code: number): Promise<never> {
    if (!this.stopping) {
      this.stopping = true;
      const procs = [...this.nodes.values()].map((n) => n.proc).reverse();
      for (const p of procs) if (!exited(p)) p.kill('SIGTERM');
      const deadline = Date.now() + STOP_GRACE_MS;
      while (procs.some((p) => !exited(p)) && Date.now() < deadline) await sleep(100);
      for (const p of procs) if (!exited(p)) p.kill('SIGKILL');
      this.control?.close();
      rmSync(statePath(this.dataDir), { force: true });
      process.exit(code);
    }
    return new Promise<never>(() => {});
  }

  private onExit(node: Node, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // a replaced process, or one --restart is stopping on purpose, is not a death
    if (this.stopping || node.proc !== proc || node.restarting) return;
    this.writeState();
    const how = `[${node.spec.name}] exited (${describeExit(code, signal)})`;
    if (!this.up) {
      for (const line of node.lastOutput) console.error(`[${node.spec.name}] ${line}`);
      console.error(`${how} while the cluster was starting; stopping the cluster`);
      void this.stop(1);
    } else if (node.spec.essential) {
      console.error(`${how}; the other nodes cannot run without it — stopping the cluster`);
      void this.stop(1);
    } else if ([...this.nodes.values()].every((n) => n.spec.essential || exited(n.proc))) {
      console.error(`${how}; no relaycast node is left — stopping the cluster`);
      void this.stop(1);
    } else {
      console.error(
        `${how}; the rest of the cluster keeps running — restart it with: npm run cluster -- --restart ${node.spec.name}`,
      );
    }
  }

  private async handleRequest(line: string): Promise<Record<string, unknown>> {
    let req: { token?: unknown; restart?: unknown };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      return { ok: false, code: 'RC_BAD_REQUEST', error: 'the request is not one line of JSON' };
    }
    if (req.token !== this.token)
      return { ok: false, code: 'RC_ADMIN_UNAUTHORIZED', error: 'wrong control token' };
    const name = String(req.restart);
    if (!this.nodes.has(name))
      return {
        ok: false,
        code: 'RC_NOT_FOUND',
        error: `unknown node '${name}'; the nodes are: ${[...this.nodes.keys()].join(', ')}`,
      };
    if (this.stopping || !this.up)
      return { ok: false, code: 'RC_INVALID_STATE', error: 'the cluster is starting or stopping; try again' };
    let restart = this.restarts.get(name);
    if (!restart) {
      restart = this.restart(name).finally(() => this.restarts.delete(name));
      this.restarts.set(name, restart);
    }
    try {
      return { ok: true, pid: await restart };
    } catch (err) {
      return { ok: false, code: 'RC_INTERNAL', error: (err as Error).message };
    }
  }

  /** Stops the node if it still runs, starts it with the same command and args, waits until ready. */
  private async restart(name: string): Promise<number> {
    const node = this.nodes.get(name)!;
    if (!exited(node.proc)) {
      node.restarting = true;
      const gone = once(node.proc, 'exit');
      node.proc.kill('SIGTERM');
      const timer = setTimeout(() => node.proc.kill('SIGKILL'), STOP_GRACE_MS);
      await gone;
      clearTimeout(timer);
    }
    // Ctrl-C while the old process was stopping: spawning now would outlive stop()'s list
    if (this.stopping) throw new Error('the cluster is stopping');
    const proc = this.start(node.spec);
    console.error(`[${name}] restarted (pid ${proc.pid})`);
    await this.waitReady(name);
    return proc.pid!;
  }

  private writeState(): void {
    const state: ClusterState = {
      pid: process.pid,
      control: { port: this.controlPort, token: this.token },
      nodes: [...this.nodes.values()].map(({ spec, proc }) => ({
        name: spec.name,
        pid: proc.pid ?? null,
        running: !exited(proc),
        command: spec.command,
        args: spec.args,
      })),
    };
    // write then rename: a reader never sees half a file
    const tmp = `${statePath(this.dataDir)}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, statePath(this.dataDir));
  }
}

/** cluster.json of the launcher using dataDir, or undefined when there is none. */
export function readState(dataDir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dataDir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** Whether a launcher answers on the control port named in dataDir's cluster.json. */
export async function launcherRunning(dataDir: string): Promise<ClusterState | undefined> {
  const state = readState(dataDir);
  if (!state?.control.port) return undefined;
  return (await tcpOpen(state.control.port)) ? state : undefined;
}

/** `--restart <name>`: asks the running launcher to restart a node; returns the exit status. */
export async function requestRestart(dataDir: string, name: string): Promise<number> {
  const state = await launcherRunning(dataDir);
  if (!state) {
    console.error(
      `npm run cluster: no cluster is running from ${dataDir} (no launcher answers there); start one with: npm run cluster (RC_NOT_FOUND)`,
    );
    return 1;
  }
  if (!state.nodes.some((n) => n.name === name)) {
    console.error(
      `npm run cluster: unknown node '${name}'; the nodes are: ${state.nodes.map((n) => n.name).join(', ')} (RC_NOT_FOUND)`,
    );
    return 2;
  }
  const socket = connect(state.control.port, '127.0.0.1');
  socket.setTimeout(STOP_GRACE_MS + READY_TIMEOUT_MS + 10_000, () =>
    socket.destroy(new Error('the launcher did not answer in time')),
  );
  // write, not end: the launcher closes the connection once it has replied
  socket.write(`${JSON.stringify({ token: state.control.token, restart: name })}\n`);
  let reply = '';
  let failure: Error | undefined;
  socket.on('error', (err) => {
    failure = err;
  });
  socket.setEncoding('utf8').on('data', (d: string) => {
    reply += d;
  });
  try {
    await once(socket, 'close');
    if (failure) throw failure;
    const r = JSON.parse(reply) as { ok: boolean; pid?: number; code?: string; error?: string };
    if (r.ok) {
      console.log(`${name} restarted (pid ${r.pid}) and ready`);
      return 0;
    }
    console.error(`npm run cluster: could not restart ${name}: ${r.error} (${r.code})`);
    return r.code === 'RC_NOT_FOUND' ? 2 : 1;
  } catch (err) {
    console.error(
      `npm run cluster: could not restart ${name}: ${(err as Error).message}; check the launcher's terminal (RC_INTERNAL)`,
    );
    return 1;
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(2000, () => s.destroy());
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('close', () => resolve(false));
    s.once('error', () => resolve(false));
  });
}
