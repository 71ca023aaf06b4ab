import { parseCommandArgs, UsageError } from '../core/args.ts';
import { RelaycastError } from '../core/errors.ts';
import { signedQuery } from '../core/signing.ts';

export const SIGN_USAGE = `relaycast sign <app>/<name> [--ttl 1h] [--secret S] [--ip A.B.C.D]
                [--base http://edge:8080] [--rtmp-base rtmp://edge:1935]

Prints play URLs (HTTP-FLV, HLS, RTMP) signed with HMAC-SHA256(secret, "<app>/<name>:<expires>")
for --play-auth signed. The secret comes from --secret or RELAYCAST_PLAY_SECRET. With --ip the URLs
only work from that address. --rtmp-base defaults to --base's host on port 1935.`;

const OPTIONS = {
  secret: { type: 'string' },
  ttl: { type: 'string' },
  ip: { type: 'string' },
  base: { type: 'string' },
  'rtmp-base': { type: 'string' },
} as const;

/** '90', '90s', '15m', '1h', '2d' → seconds */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(s.trim());
  if (!m)
    throw new RelaycastError('RC_BAD_REQUEST', `cannot read duration '${s}'; use e.g. 90s, 15m, 1h, 2d`);
  const n = Number(m[1]);
  const unit = m[2] || 's';
  return n * (unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86400);
}

export function runSign(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(args, OPTIONS, 'sign', 1);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`relaycast: ${err.message}`);
    return 2;
  }
  const { positionals, flags } = parsed;
  if (flags.has('help')) {
    console.log(SIGN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`relaycast: give the stream as <app>/<name>, e.g. live/test\n\n${SIGN_USAGE}`);
    return 2;
  }
  const flag = (name: keyof typeof OPTIONS) => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const target = positionals[0]!;
  const slash = target.lastIndexOf('/');
  if (slash <= 0 || slash === target.length - 1)
    throw new RelaycastError('RC_BAD_REQUEST', 'give the stream as <app>/<name>, e.g. live/test');
  const app = target.slice(0, slash);
  const name = target.slice(slash + 1);
  const secret = flag('secret') ?? env.RELAYCAST_PLAY_SECRET;
  if (!secret)
    throw new RelaycastError('RC_BAD_REQUEST', 'no secret: pass --secret or set RELAYCAST_PLAY_SECRET');
  const ttl = parseDuration(flag('ttl') ?? '1h');
  const ip = flag('ip');
  const base = (flag('base') ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  let rtmpBase = flag('rtmp-base');
  if (!rtmpBase) {
    let host: string;
    try {
      host = new URL(base).hostname;
    } catch {
      throw new RelaycastError('RC_BAD_REQUEST', `--base must be a URL like http://edge:8080, got '${base}'`);
    }
    rtmpBase = `rtmp://${host}:1935`; // an IPv6 hostname keeps its brackets
  }
  rtmpBase = rtmpBase.replace(/\/$/, '');
  const q = signedQuery(secret, app, name, ttl, ip);
  console.log(`${base}/${app}/${name}.flv?${q}`);
  console.log(`${base}/${app}/${name}.m3u8?${q}`);
  console.log(`${rtmpBase}/${app}/${name}?${q}`);
  // last, so scripts reading the first three lines keep working
  console.log(`${base}/${app}/${name}/ll.m3u8?${q}`);
  return 0;
}
