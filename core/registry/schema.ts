/**
 * The registry's Redis schema, in one place. Every key starts with a configurable prefix
 * (default `relaycast:`) so several clusters can share one Redis.
 *
 * | key                                  | type   | value                                   | TTL             | written by            |
 * |--------------------------------------|--------|-----------------------------------------|-----------------|-----------------------|
 * | `<p>stream:<app>/<name>:<role>`      | string | JSON StreamRecord                       | lease (≈5 s)    | the owning origin     |
 * | `<p>gen:<app>/<name>`                | string | integer, INCR per publish (fencing)     | none            | any origin at publish |
 * | `<p>node:<id>`                       | string | JSON NodeRecord                         | lease (≈5 s)    | each node (heartbeat) |
 * | `<p>channel:<app>/<name>`            | string | JSON ChannelRecord (key hashes only)    | none            | control plane / admin |
 * | `<p>keyidx:<sha256(key)>`            | string | `<app>/<name>|primary` or `…|backup`    | none            | control plane / admin |
 * | `<p>route:<app>/<name>`              | string | active role `primary`/`backup`          | none            | control plane leader  |
 * | `<p>switches:<app>/<name>`           | list   | JSON SwitchRecord, newest first (≤ 50)  | none            | control plane leader  |
 * | `<p>fence:<name>`                    | string | highest leader fencing token seen       | none            | control plane leader  |
 * | `<p>lock:<name>`                     | string | `<holder>|<token>`                      | lock TTL        | lock holder           |
 * | `<p>locktoken:<name>`                | string | integer fencing counter for the lock    | none            | lock acquirer         |
 * | `<p>hlskey:<app>/<name>:<id>`        | string | base64 AES-128 key (16 bytes)           | window + retention | the packaging origin |
 * | channel `<p>events`                  | pubsub | JSON RegistryEvent                      | —               | everyone              |
 *
 * Stream records are written and fenced by Lua scripts: a publish with a higher generation
 * replaces the record (takeover), renewals and removals must quote the stored generation.
 * Nothing depends on pub/sub for correctness: a missed event is caught when a lease lapses or a
 * renewal fails its generation check.
 */
export const DEFAULT_KEY_PREFIX = 'relaycast:';
export const DEFAULT_LEASE_TTL_MS = 5000;

export function keys(prefix: string) {
  return {
    stream: (app: string, name: string, role: 'primary' | 'backup') =>
      `${prefix}stream:${app}/${name}:${role}`,
    streamPattern: `${prefix}stream:*`,
    generation: (app: string, name: string) => `${prefix}gen:${app}/${name}`,
    node: (id: string) => `${prefix}node:${id}`,
    nodePattern: `${prefix}node:*`,
    channel: (app: string, name: string) => `${prefix}channel:${app}/${name}`,
    channelPattern: `${prefix}channel:*`,
    keyIndex: (keyHash: string) => `${prefix}keyidx:${keyHash}`,
    route: (app: string, name: string) => `${prefix}route:${app}/${name}`,
    switches: (app: string, name: string) => `${prefix}switches:${app}/${name}`,
    fence: (name: string) => `${prefix}fence:${name}`,
    lock: (name: string) => `${prefix}lock:${name}`,
    lockToken: (name: string) => `${prefix}locktoken:${name}`,
    hlsKey: (app: string, name: string, id: string) => `${prefix}hlskey:${app}/${name}:${id}`,
    forwardStatus: (app: string, name: string) => `${prefix}fwdstatus:${app}/${name}`,
    sourceAssignment: (app: string, name: string) => `${prefix}srcassign:${app}/${name}`,
    sourceStatus: (app: string, name: string) => `${prefix}srcstatus:${app}/${name}`,
    events: `${prefix}events`,
  };
}
export type RegistryKeys = ReturnType<typeof keys>;
