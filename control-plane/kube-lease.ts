/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package
 * (LeaseLock + ReleaseOnCancel), on top of the shared PollingElector loop.
 *
 * - Every write is a create (lease missing) or a replace carrying the resourceVersion we read, so
 *   two replicas racing for the lease cannot both win: the loser gets 409 and is not leader.
 * - The fencing token is `spec.leaseTransitions`. Every new term of ours writes
 *   leaseTransitions + 1 (taking the lease over from another holder, from an empty holder after a
 *   release, or taking back our own lease after we stepped down); renewals keep it. So the token
 *   of each new term is higher than every token used before it, whoever held those terms. The
 *   only term with token 0 is the one that created the lease.
 * - Expiry is measured the way client-go does it, not by comparing `renewTime` with our clock:
 *   we remember when we (on our own clock) first saw the current lease record, and treat it as
 *   expired once leaseDurationSeconds have passed since then without the record changing. Clock
 *   skew between replicas therefore cannot make a follower take over a lease that is still live.
 *   The cost: a replica that starts after the holder died waits one full lease duration before
 *   taking over, however old `renewTime` is. An empty holderIdentity (a released lease) can be
 *   taken at once.
 */
import { readFileSync } from 'node:fs';
import {
  ApiException,
  type ConfigurationOptions,
  CoordinationV1Api,
  KubeConfig,
  Observable,
  type V1Lease,
  type V1LeaseSpec,
  V1MicroTime,
} from '@kubernetes/client-node';
import type { Logger } from '../core/log.ts';
import { type LeaderElectorOptions, PollingElector } from './leader.ts';

export interface KubeLeaseElectorOptions extends LeaderElectorOptions {
  /** Namespace of the Lease object (usually the pod's own, see podNamespace()). */
  namespace: string;
  /** Defaults to the in-cluster service account (KubeConfig.loadFromCluster()). */
  kubeConfig?: KubeConfig;
  /**
   * Each API request is aborted after this long (default max(retryPeriodMs, leaseDurationMs / 3)),
   * so a hung API server cannot stall the loop past the end of our lease.
   */
  requestTimeoutMs?: number;
}

type AttemptResult = { held: boolean; token?: number; holder?: string };

const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace this pod runs in: $POD_NAMESPACE if set (an explicit override, e.g. from the
 * downward API; client-go's in-cluster config gives it precedence too), else the service account's
 * namespace file, else 'default'.
 */
export function podNamespace(namespaceFile = SERVICE_ACCOUNT_NAMESPACE_FILE): string {
  const fromEnv = process.env.POD_NAMESPACE?.trim();
  if (fromEnv) return fromEnv;
  try {
    const fromFile = readFileSync(namespaceFile, 'utf8').trim();
    if (fromFile) return fromFile;
  } catch {
    // not running in a pod (or no service account mounted)
  }
  return 'default';
}

/**
 * MicroTime fields come back from client-node v2 as the raw RFC3339 string (the serializer does not
 * know the V1MicroTime type), although they are typed as a Date; accept both.
 */
function timeMs(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** V1MicroTime serialises as RFC3339 with six fractional digits, which the API server requires. */
function microTime(ms: number): V1MicroTime {
  return new V1MicroTime(ms);
}

function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

export class KubeLeaseElector extends PollingElector {
  readonly kind = 'kubernetes';
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly leaseDurationSeconds: number;
  private readonly requestTimeoutMs: number;
  /** The lease record as last seen (holder, renewTime, transitions, duration) and when we first saw it. */
  private observedRecord: string | undefined;
  private observedAt = 0;

  constructor(options: KubeLeaseElectorOptions, log: Logger) {
    const { namespace, kubeConfig, requestTimeoutMs, ...electorOptions } = options;
    super(electorOptions, log);
    this.namespace = namespace;
    this.leaseDurationSeconds = Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
    this.requestTimeoutMs =
      requestTimeoutMs ?? Math.max(this.options.retryPeriodMs, Math.floor(this.options.leaseDurationMs / 3));
    let kc = kubeConfig;
    if (!kc) {
      kc = new KubeConfig();
      kc.loadFromCluster();
    }
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  /** Per-request options: abort the request after requestTimeoutMs. */
  private requestOptions(): ConfigurationOptions {
    const timeoutMs = this.requestTimeoutMs;
    return {
      middleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(AbortSignal.timeout(timeoutMs));
            return new Observable(Promise.resolve(ctx));
          },
          post: (res) => new Observable(Promise.resolve(res)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease(
        { name: this.options.leaseName, namespace: this.namespace },
        this.requestOptions(),
      );
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** Write `lease` (replace, or create when `create`); undefined on 409 (someone else wrote first). */
  private async write(lease: V1Lease, create: boolean): Promise<V1Lease | undefined> {
    try {
      return create
        ? await this.api.createNamespacedLease(
            { namespace: this.namespace, body: lease },
            this.requestOptions(),
          )
        : await this.api.replaceNamespacedLease(
            { name: this.options.leaseName, namespace: this.namespace, body: lease },
            this.requestOptions(),
          );
    } catch (err) {
      if (isStatus(err, 409)) return undefined;
      throw err;
    }
  }

  /** Remembers the record and, when it differs from the one seen before, when (locally) it changed. */
  private observe(spec: V1LeaseSpec | undefined): void {
    const record = JSON.stringify([
      spec?.holderIdentity ?? '',
      timeMs(spec?.renewTime) ?? null,
      spec?.leaseTransitions ?? 0,
      spec?.leaseDurationSeconds ?? null,
    ]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
  }

  protected async attempt(): Promise<AttemptResult> {
    const { leaseName } = this.options;
    const identity = this.identity;
    const current = await this.read();
    const now = Date.now();

    if (!current) {
      const created = await this.write(
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: leaseName, namespace: this.namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
        true,
      );
      if (!created) return { held: false }; // another replica created it first
      this.observe(created.spec);
      return { held: true, token: created.spec?.leaseTransitions ?? 0, holder: identity };
    }

    const spec = current.spec ?? {};
    this.observe(spec);
    const holder = spec.holderIdentity || undefined;
    const transitions = spec.leaseTransitions ?? 0;
    // A renewal continues our current term: we are leader and the record is still that term's.
    const renewing = holder === identity && this.isLeader() && this.token === transitions;
    if (!renewing && holder !== undefined && holder !== identity) {
      const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
      if (Date.now() < this.observedAt + durationMs) return { held: false, holder };
    }

    // Renew, or start a new term: take over an expired/released lease, or take back our own lease
    // after we stepped down (e.g. its renewals failed, or this process restarted). A new term
    // always bumps leaseTransitions so its fencing token is higher than any before it.
    const token = renewing ? transitions : transitions + 1;
    const updated = await this.write(
      {
        ...current,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: this.leaseDurationSeconds,
          renewTime: microTime(now),
          ...(renewing ? {} : { acquireTime: microTime(now), leaseTransitions: token }),
        },
      },
      false,
    );
    // 409: the lease changed since our GET (resourceVersion mismatch): not ours on this attempt.
    if (!updated) return { held: false };
    this.observe(updated.spec);
    // Our term ran out locally (or stop() began) while this renewal was in flight: we already
    // stepped down, so do not revive that term with its old token. The lease is still ours, and
    // the next attempt starts a new term with leaseTransitions + 1.
    if (renewing && !this.isLeader()) return { held: false, holder: identity };
    return { held: true, token, holder: identity };
  }

  /** Like client-go's ReleaseOnCancel: clear the holder so another replica takes over at once. */
  protected async release(token: number): Promise<void> {
    const current = await this.read();
    const spec = current?.spec;
    if (!current || !spec || spec.holderIdentity !== this.identity || (spec.leaseTransitions ?? 0) !== token)
      return; // not ours any more
    const now = Date.now();
    const released = await this.write(
      {
        ...current,
        spec: {
          ...spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(now - 1000), // renewTime + leaseDurationSeconds is already past
        },
      },
      false,
    );
    if (released) this.log.info({ identity: this.identity, token }, 'released the lease');
    else this.log.info({ identity: this.identity, token }, 'lease changed before release; left to expire');
  }
}
