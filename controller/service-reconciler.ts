// The Service reconciler: level-triggered. reconcile(key) reads the Service from the cache,
// brings the allocator up to date for it and converges the Service to what it should show
// (service-state.ts), writing only what differs. Restarts lose nothing: restore() first takes
// back every address already in a Service's status (assign, no writes), so the reconciles that
// follow keep them and find nothing to write.

import type { IPAddress } from '../lib/ip/index.js';
import { formatIP, ipEquals, tryParseIP } from '../lib/ip/index.js';
import type { ReadonlyCache } from '../lib/kube/cache.js';
import type { Logger } from '../lib/log.js';
import type { AllocationResult, Allocator } from './allocator/allocator.js';
import type { AllocatorPool, ServiceRequest } from './allocator/types.js';
import type { NamespaceObject, ServiceObject } from '../lib/service/service-object.js';
import { ingressIPs, isServedByUs } from '../lib/service/service-object.js';
import {
  buildServiceRequest,
  deprecatedAnnotationMessage,
  deprecatedAnnotations,
} from './service-request.js';
import type { EventSpec, ServiceOutcome } from './service-state.js';
import { desiredServiceState, reasonCodes } from './service-state.js';

/** What a write left on the Service, as the API server answered it. */
export interface WrittenService {
  readonly resourceVersion?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ServiceWriter {
  /**
   * Strategic merge patch of the status subresource. The body may carry metadata.annotations
   * too: for Services the API server resets only spec on a status write, so the pool
   * annotation and the address land in one write (MetalLB spends two).
   */
  patchStatus(namespace: string, name: string, body: Record<string, unknown>): Promise<WrittenService>;
  /** Merge patch of the object (metadata.annotations). */
  patchMetadata(namespace: string, name: string, body: Record<string, unknown>): Promise<WrittenService>;
}

export interface ServiceReconcilerOptions {
  services: ReadonlyCache<ServiceObject>;
  namespaces: ReadonlyCache<NamespaceObject>;
  allocator: Allocator;
  lbClass?: string;
  writer: ServiceWriter;
  recordEvent: (svc: ServiceObject, event: EventSpec) => void;
  /** Other keys to look at again (pending Services, after addresses came free). */
  requeue: (keys: string[]) => void;
  now: () => number;
  log: Logger;
  /** Called after any allocation changed (pool status, metrics). */
  onAllocationsChanged?: () => void;
  /** Called when a Service becomes pending, changes reason or stops being pending (metrics):
   * a Service that gets no address changes no allocation. */
  onPendingChanged?: () => void;
  /** Seconds spent finding addresses for a Service that held none. */
  observeAllocation?: (seconds: number) => void;
}

export class ServiceReconciler {
  /** Pending Services and their reason codes. */
  private readonly pending = new Map<string, string>();
  /**
   * The deprecated annotations last warned about, per Service (uid and names): a Service is
   * warned once per controller process and again only when its old spellings change, not on
   * every reconcile.
   */
  private readonly warned = new Map<string, string>();
  /**
   * Per Service, the resourceVersion our annotation patch produced when a status patch followed
   * it (only when the two are written separately, see write()). The watch delivers that half-written state before the status change; reconciling it
   * would write the status and the Event a second time, so it is skipped. Forgotten as soon as
   * the Service moves on or a write fails (a retry must never be skipped).
   */
  private readonly ownHalfWritten = new Map<string, string>();
  /** Set once the API server is seen dropping metadata from a status write. */
  private annotationsSeparately = false;

  constructor(private readonly opts: ServiceReconcilerOptions) {}

  /** Pending Services counted by reason code. */
  pendingByReason(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const reason of this.pending.values()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    return counts;
  }

  private setPending(serviceKey: string, reason: string | undefined): void {
    if (this.pending.get(serviceKey) === reason) return;
    if (reason === undefined) this.pending.delete(serviceKey);
    else this.pending.set(serviceKey, reason);
    this.opts.onPendingChanged?.();
  }

  pendingKeys(): string[] {
    return [...this.pending.keys()];
  }

  /**
   * Takes back the addresses every served Service already shows in its status, without
   * writing anything; invalid ones are left for reconcile() to replace. Returns how many
   * Services were restored.
   */
  restore(): number {
    let restored = 0;
    const services = this.opts.services.list().filter((s) => ingressIPs(s).length > 0);
    services.sort((a, b) => key(a).localeCompare(key(b)));
    for (const svc of services) {
      if (!isServedByUs(svc, this.opts.lbClass)) continue;
      const built = buildServiceRequest(svc, this.namespaceLabels(svc));
      if (!built.ok) continue;
      if (this.assignFromStatus(svc, built.request)?.ok) restored++;
    }
    this.opts.onAllocationsChanged?.();
    return restored;
  }

  /** New pools: returns the Services to reconcile again. */
  setPools(pools: readonly AllocatorPool[]): string[] {
    const result = this.opts.allocator.setPools(pools);
    for (const key of result.released)
      this.opts.log.info('address left every pool, reallocating', { service: key });
    this.opts.onAllocationsChanged?.();
    return [
      ...new Set([
        ...result.released,
        ...result.mismatched,
        ...result.moved.map((m) => m.service),
        ...this.pending.keys(),
      ]),
    ];
  }

  async reconcile(serviceKey: string): Promise<void> {
    const { allocator, log } = this.opts;
    const svc = this.opts.services.get(serviceKey);
    const halfWritten = this.ownHalfWritten.get(serviceKey);
    this.ownHalfWritten.delete(serviceKey);
    if (svc !== undefined && halfWritten !== undefined && svc.metadata?.resourceVersion === halfWritten)
      return;
    if (svc === undefined) {
      this.setPending(serviceKey, undefined);
      this.warned.delete(serviceKey);
      if (allocator.release(serviceKey)) this.freed(serviceKey);
      return;
    }
    if (!classMatches(svc, this.opts.lbClass)) {
      // Another load balancer's Service: not ours to write to.
      this.setPending(serviceKey, undefined);
      this.warned.delete(serviceKey);
      if (allocator.release(serviceKey)) this.freed(serviceKey);
      return;
    }

    const before = allocator.allocationOf(serviceKey);
    let outcome: ServiceOutcome;
    if (svc.spec?.type !== 'LoadBalancer') {
      allocator.release(serviceKey);
      outcome = { kind: 'released' };
    } else {
      this.warnDeprecated(serviceKey, svc);
      const built = buildServiceRequest(svc, this.namespaceLabels(svc));
      if (!built.ok) {
        allocator.release(serviceKey);
        outcome = { kind: 'failed', failure: built.problem };
      } else {
        const started = this.opts.now();
        if (before === undefined) this.assignFromStatus(svc, built.request);
        const result = allocator.allocate(built.request);
        if (before === undefined) this.opts.observeAllocation?.((this.opts.now() - started) / 1000);
        outcome = result.ok
          ? { kind: 'allocated', allocation: result.allocation }
          : { kind: 'failed', failure: result.failure };
      }
    }

    const after = allocator.allocationOf(serviceKey);
    if (!sameAllocation(before?.ips, after?.ips) || before?.pool !== after?.pool) {
      this.opts.onAllocationsChanged?.();
      if (before !== undefined && !sameAllocation(before.ips, after?.ips)) this.freed(serviceKey);
    }
    this.setPending(serviceKey, outcome.kind === 'failed' ? reasonCodes[outcome.failure.reason] : undefined);

    const writes = desiredServiceState(svc, outcome, this.opts.now());
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    await this.write(serviceKey, ns, name, writes.status, writes.metadata);
    for (const event of writes.events) this.opts.recordEvent(svc, event);

    const fields = { service: serviceKey };
    if (outcome.kind === 'allocated' && writes.status !== undefined)
      log.info('service allocated', {
        ...fields,
        ip: outcome.allocation.ips.map(formatIP).join(','),
        pool: outcome.allocation.pool,
      });
    else if (outcome.kind === 'failed' && writes.status !== undefined)
      log.warn('service pending', {
        ...fields,
        reason: outcome.failure.reason,
        error: outcome.failure.message,
      });
    else if (outcome.kind === 'released' && writes.status !== undefined) log.info('service released', fields);
  }

  /** assign() with the addresses in the Service's status, when they agree with its request. */
  private assignFromStatus(svc: ServiceObject, request: ServiceRequest): AllocationResult | undefined {
    const ips = ingressIPs(svc).map(tryParseIP);
    if (ips.length === 0 || ips.some((ip) => ip === undefined)) return undefined;
    const held = ips as IPAddress[];
    if (request.requestedIPs.length > 0 && !sameAllocation(request.requestedIPs, held)) return undefined;
    const result = this.opts.allocator.assign(request, held);
    if (!result.ok)
      this.opts.log.info('address in status no longer valid', {
        service: request.key,
        ip: held.map(formatIP).join(','),
        error: result.failure.message,
      });
    return result;
  }

  /**
   * The status and the pool annotation, in one status write when both changed. Should an API
   * server keep only the status of such a write (the answer shows the annotation unchanged),
   * the annotation is written on its own, now and from then on: annotation first, so that once
   * the address shows in status, the pool it came from does too.
   */
  private async write(
    serviceKey: string,
    ns: string,
    name: string,
    status: Record<string, unknown> | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const { writer } = this.opts;
    if (status !== undefined && metadata !== undefined && !this.annotationsSeparately) {
      const written = await writer.patchStatus(ns, name, { ...status, ...metadata });
      if (annotationsApplied(written, metadata)) return;
      this.annotationsSeparately = true;
      this.opts.log.warn(
        'the API server ignored metadata in a Service status write: the pool annotation is written separately from now on',
        {
          service: serviceKey,
        },
      );
      await writer.patchMetadata(ns, name, metadata);
      return;
    }
    if (metadata !== undefined) {
      const written = await writer.patchMetadata(ns, name, metadata);
      if (status !== undefined && written.resourceVersion !== undefined)
        this.ownHalfWritten.set(serviceKey, written.resourceVersion);
    }
    if (status !== undefined) {
      try {
        await writer.patchStatus(ns, name, status);
      } catch (err) {
        this.ownHalfWritten.delete(serviceKey);
        throw err;
      }
    }
  }

  /** A Warning Event per metallb.universe.tf/ annotation, once per Service and spelling set. */
  private warnDeprecated(serviceKey: string, svc: ServiceObject): void {
    const found = deprecatedAnnotations(svc);
    const mark = found.length === 0 ? '' : [svc.metadata?.uid ?? '', ...found.map((d) => d.name)].join(' ');
    if ((this.warned.get(serviceKey) ?? '') === mark) return;
    if (mark === '') this.warned.delete(serviceKey);
    else this.warned.set(serviceKey, mark);
    for (const d of found)
      this.opts.recordEvent(svc, {
        type: 'Warning',
        reason: 'DeprecatedAnnotation',
        message: deprecatedAnnotationMessage(d),
      });
  }

  private freed(by: string): void {
    const keys = [...this.pending.keys()].filter((k) => k !== by);
    if (keys.length > 0) this.opts.requeue(keys);
  }

  private namespaceLabels(svc: ServiceObject): Record<string, string> {
    return this.opts.namespaces.get(svc.metadata?.namespace ?? '')?.metadata?.labels ?? {};
  }
}

function key(svc: ServiceObject): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** Class agreement alone (type aside): a Service of another class is never touched. */
function classMatches(svc: ServiceObject, lbClass: string | undefined): boolean {
  return isServedByUs({ ...svc, spec: { ...svc.spec, type: 'LoadBalancer' } }, lbClass);
}

function sameAllocation(a: readonly IPAddress[] | undefined, b: readonly IPAddress[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((ip, i) => ipEquals(ip, y[i]!));
}

/** Whether every annotation of a metadata patch shows in the written object. */
function annotationsApplied(written: WrittenService, metadata: Record<string, unknown>): boolean {
  const wanted = (metadata.metadata as { annotations?: Record<string, string | null> } | undefined)
    ?.annotations;
  return Object.entries(wanted ?? {}).every(([k, v]) => (written.annotations[k] ?? null) === v);
}
