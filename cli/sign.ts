import { RelaycastError } from '../core/errors.ts';
import { signedQuery } from '../core/signing.ts';

/** '90', '90s', '15m', '1h', '2d' → seconds */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(s.trim());
  if (!m)
    throw new RelaycastError('RC_BAD_REQUEST', `cannot read duration '${s}'; use e.g. 90s, 15m, 1h, 2d`);
  const n = Number(m[1]);
  const unit = m[2] || 's';
  return n * (unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86400);
}

export function runSign(args: string[], flags: ReadonlyMap<string, string | true>): number {
  if (flags.has('help') || args.length !== 1) {
    console.log(`relaycast sign <app>/<name> [--ttl 1h] [--secret S] [--ip A.B.C.D] [--base http://edge:8080]

Prints a play URL signed with HMAC-SHA256(secret, "<app>/<name>:<expires>") for --play-auth signed.
The secret comes from --secret or RELAYCAST_PLAY_SECRET. With --ip the URL only works from that address.`);
    return args.length === 1 ? 0 : 2;
  }
  const target = args[0]!;
  const slash = target.lastIndexOf('/');
  if (slash <= 0)
    throw new RelaycastError('RC_BAD_REQUEST', 'give the stream as <app>/<name>, e.g. live/test');
  const app = target.slice(0, slash);
  const name = target.slice(slash + 1);
  const secret = (flags.get('secret') as string | undefined) ?? process.env.RELAYCAST_PLAY_SECRET;
  if (!secret || secret === (true as unknown))
    throw new RelaycastError('RC_BAD_REQUEST', 'no secret: pass --secret or set RELAYCAST_PLAY_SECRET');
  const ttl = parseDuration((flags.get('ttl') as string | undefined) ?? '1h');
  const ip = flags.get('ip') as string | undefined;
  const base = ((flags.get('base') as string | undefined) ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const q = signedQuery(secret, app, name, ttl, ip);
  console.log(`${base}/${app}/${name}.flv?${q}`);
  console.log(`${base}/${app}/${name}.m3u8?${q}`);
  return 0;
}
