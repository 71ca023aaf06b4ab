/**
 * CIDR lists (`--source-networks`): which addresses an origin can receive sources from. Uses
 * node:net's BlockList, so IPv4 and IPv6 prefixes both work.
 */
import { BlockList, isIP } from 'node:net';

export function parseCidr(
  cidr: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const family = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (!family || prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address: m[1]!, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether `address` lies in any of `cidrs` (an empty or absent list holds everything). */
export function inNetworks(address: string, cidrs: readonly string[] | undefined): boolean {
  if (!cidrs || cidrs.length === 0) return true;
  const family = isIP(address);
  if (!family) return false;
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) list.addSubnet(p.address, p.prefix, p.family);
  }
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
