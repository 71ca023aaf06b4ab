/**
 * A network namespace joined to the host by a veth pair, for tests that need a real link: a
 * partition (cut the veth) or a slow WAN path (`tc qdisc … netem`). Needs root; `netnsSkipReason()`
 * says why a machine cannot run such a test, so it can skip cleanly. Everything has a pid-based name
 * and a private /30 in 10.231.0.0/16, and is removed by `teardown()` (also on process exit).

 */
import { spawnSync } from 'node:child_process';

export function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export function mustIp(...args: string[]): string {
  const r = ip(...args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.out}`);
  return r.out;
}

function mustRun(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`);
}

/** Why this machine cannot run a namespace test (undefined = it can). Leaves nothing behind. */
export function netnsSkipReason(needTc = false): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace and a veth pair';
  const probe = `rcq${process.pid % 100_000}`;
  const add = ip('netns', 'add', probe);
  if (!add.ok) return `ip netns add failed: ${add.out.trim()}`;
  ip('netns', 'del', probe);
  if (needTc && spawnSync('tc', ['-V'], { encoding: 'utf8' }).status !== 0)
    return 'tc (iproute2) is not installed';
  return undefined;
}

/** A /30 in 10.231.0.0/16 that no interface or route on this host uses yet. */
export function pickSubnet(seed: number): { hostIp: string; nsIp: string } {
  const used = `${ip('-4', '-o', 'addr', 'show').out}\n${ip('-4', 'route', 'show', 'table', 'all').out}`;
  for (let i = 0; i < 64 * 256; i++) {
    const n = (seed * 4 + i * 4) % (64 * 256 * 4);
    const third = Math.floor(n / 256);
    const fourth = n % 256;
    const base = `10.231.${third}.`;
    const taken = [0, 1, 2, 3].some((k) =>
      new RegExp(`\\b${base.replaceAll('.', '\\.')}${fourth + k}\\b`).test(used),
    );
    if (!taken) return { hostIp: `${base}${fourth + 1}`, nsIp: `${base}${fourth + 2}` };
  }
  throw new Error('no free /30 in 10.231.0.0/16');
}

export interface Netns {
  ns: string;
  hostIf: string;
  nsIf: string;
  hostIp: string;
  nsIp: string;
  /** Command prefix that runs a program inside the namespace. */
  exec: string[];
  /**
   * Shapes the link: `rateMbit` from the host into the namespace and `rttMs` split over the two
   * ways, with netem; where the kernel has no netem, the rate alone with tbf. Replaces any earlier
   * shaping; returns what was applied.
   */
  shape(rateMbit: number, rttMs: number): string;
  /** Removes the namespace and the veth; safe to call more than once. */
  teardown(): void;
}

/** Creates namespace `rc<tag><pid>` with a veth pair (names stay under IFNAMSIZ, 15). */
export function createNetns(tag: string): Netns {
  const ns = `rc${tag}${process.pid % 100_000}`;
  const hostIf = `${ns}h`;
  const nsIf = `${ns}n`;
  const teardown = () => {
    if (
      ip('netns', 'list')
        .out.split('\n')
        .some((l) => l.split(' ')[0] === ns)
    )
      ip('netns', 'del', ns);
    if (ip('link', 'show', hostIf).ok) ip('link', 'del', hostIf);
  };
  teardown(); // a leftover from a killed run with the same pid
  process.once('exit', teardown);
  const { hostIp, nsIp } = pickSubnet(process.pid + tag.charCodeAt(0));
  mustIp('netns', 'add', ns);
  mustIp('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
  mustIp('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
  mustIp('link', 'set', hostIf, 'up');
  mustIp('-n', ns, 'link', 'set', 'lo', 'up');
  mustIp('-n', ns, 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
  mustIp('-n', ns, 'link', 'set', nsIf, 'up');
  const exec = ['ip', 'netns', 'exec', ns];
  const shape = (rateMbit: number, rttMs: number): string => {
    const oneWay = `${rttMs / 2}ms`;
    const hostSide = ['qdisc', 'replace', 'dev', hostIf, 'root'];
    const nsSide = ['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', nsIf, 'root'];
    // netem: rate and delay, with queue room for the bandwidth-delay product (it counts packets).
    const netem = spawnSync(
      'tc',
      [...hostSide, 'netem', 'rate', `${rateMbit}mbit`, 'delay', oneWay, 'limit', '2000'],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    if (netem.status === 0) {
      mustRun('ip', [...nsSide, 'netem', 'delay', oneWay, 'limit', '2000']);
      return `netem ${rateMbit} Mbit/s, ${rttMs} ms RTT`;
    }
    // Kernels without sch_netem (some VMs and sandboxes): a token bucket gives the rate; the
    // delay cannot be added by a qdisc then, and the caller is told so.
    mustRun('tc', [...hostSide, 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '128kb', 'latency', '100ms']);
    return `tbf ${rateMbit} Mbit/s, no added RTT (this kernel has no netem: ${netem.stderr.trim()})`;
  };
  return { ns, hostIf, nsIf, hostIp, nsIp, exec, shape, teardown };
}
