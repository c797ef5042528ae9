// The IP address allocator: which Service holds which load-balancer address, from which
// IPAddressPool. Pure and deterministic (no I/O, no clock, no randomness); the controller feeds
// it pools from the config builder and requests built from Services, and writes the results to
// the API.
//
// Rules follow MetalLB's internal/allocator (internal/allocator/allocator.go), with
// three deliberate differences:
// - ties between pools of equal priority are broken by name, never at random;
// - a service with a sharing key is packed onto the lowest address already shared under that
//   key (compatible ports and backends) before a free address is taken, so services meant to
//   share do share even when a lower address has come free since;
// - memory and time do not grow with pool size: each pool keeps its occupied addresses as runs
//   (PoolSpace, IntervalSet), so a /64 costs nothing and finding the lowest free address is
//   O(log runs), whatever the number of allocations.

import type { IPAddress, IPFamily } from '../../lib/ip/index.js';
import { familyName, formatIP } from '../../lib/ip/index.js';
import type { AllocationFailure } from './failure.js';
import { failures } from './failure.js';
import { PoolSpace } from './pool-space.js';
import { autoAssignTiers, compareNames, poolAcceptsService } from './pool-selection.js';
import type {
  Allocation,
  AllocatorPool,
  FamilyUsage,
  PoolUsage,
  ServiceRequest,
  SetPoolsResult,
} from './types.js';

export type AllocationResult =
  | { readonly ok: true; readonly allocation: Allocation }
  | { readonly ok: false; readonly failure: AllocationFailure };

interface PoolState {
  readonly def: AllocatorPool;
  readonly v4: PoolSpace | undefined;
  readonly v6: PoolSpace | undefined;
}

interface ServiceRecord {
  readonly request: ServiceRequest;
  pool: string;
  /** Primary family first. */
  readonly uses: IpUse[];
}

/** One address in use, by one service or by several sharing it. */
interface IpUse {
  readonly family: IPFamily;
  readonly value: bigint;
  /** The pool its first user took it from; usage counts it there. */
  pool: string;
  /** Every user has the same keys, or they could not share. */
  sharingKey: string;
  backendKey: string;
  readonly users: ServiceRecord[];
}

interface Wanted {
  readonly mode: 'single' | 'require' | 'prefer';
  readonly primary: IPFamily;
  readonly secondary: IPFamily;
}

interface Pick {
  readonly pool: PoolState;
  readonly ips: IPAddress[];
}

const EMPTY_USAGE: FamilyUsage = { assigned: 0, available: 0n, capacity: 0n };

export class Allocator {
  private pools = new Map<string, PoolState>();
  /** The same pools, by name: every scan over pools is in a stable order. */
  private poolList: PoolState[] = [];
  private readonly services = new Map<string, ServiceRecord>();
  private readonly usesV4 = new Map<bigint, IpUse>();
  private readonly usesV6 = new Map<bigint, IpUse>();
  /** Addresses in use under each non-empty sharing key, for packing. */
  private readonly bySharingKey = new Map<string, Set<IpUse>>();

  constructor(pools: readonly AllocatorPool[] = []) {
    this.setPools(pools);
  }

  /**
   * Replaces the pools. Every allocation whose addresses are still in one pool is kept (and
   * re-counted in that pool if it moved); the others are released and returned so the caller
   * can allocate again. Throws on duplicate pool names: the config builder never produces them.
   */
  setPools(defs: readonly AllocatorPool[]): SetPoolsResult {
    const next = new Map<string, PoolState>();
    for (const def of defs) {
      if (next.has(def.name))
        throw new Error(`Allocator.setPools: duplicate pool name ${JSON.stringify(def.name)}`);
      next.set(def.name, buildPoolState(def));
    }
    this.pools = next;
    this.poolList = [...next.values()].sort((a, b) => compareNames(a.def.name, b.def.name));

    const released: string[] = [];
    const moved: { service: string; from: string; to: string }[] = [];
    const mismatched: string[] = [];
    const keys = [...this.services.keys()].sort(compareNames);
    for (const key of keys) {
      const rec = this.services.get(key)!;
      const ips = rec.uses.map(toAddress);
      const current = this.pools.get(rec.pool);
      let pool = current !== undefined && this.poolHoldsAll(current, ips) ? current : undefined;
      if (pool === undefined) {
        const holders = this.poolList.filter((p) => this.poolHoldsAll(p, ips));
        pool = holders.find((p) => poolAcceptsService(p.def, rec.request)) ?? holders[0];
      }
      if (pool === undefined) {
        this.detach(rec);
        released.push(key);
        continue;
      }
      if (pool.def.name !== rec.pool) {
        moved.push({ service: key, from: rec.pool, to: pool.def.name });
        rec.pool = pool.def.name;
      }
      const req = rec.request;
      if (
        !poolAcceptsService(pool.def, req) ||
        (req.requestedPool !== undefined && req.requestedPool !== rec.pool)
      ) {
        mismatched.push(key);
      }
    }

    // Occupancy and counts are rebuilt from the surviving addresses: pools may have changed
    // shape (avoidBuggyIPs toggled, ranges reordered), and this runs only on config changes.
    for (const uses of [this.usesV4, this.usesV6]) {
      for (const use of uses.values()) {
        use.pool = use.users[0]!.pool;
        this.occupy(use);
      }
    }
    return { released, moved, mismatched };
  }

  /**
   * Takes exactly these addresses for the service, if allowed: one pool holds them all (and
   * does not skip them for avoidBuggyIPs), the pool accepts the service (serviceAllocation;
   * autoAssign does not matter), agrees with the address-pool annotation, and each address is
   * free or sharing-compatible. Used to restore allocations from Service status after a
   * restart, and for requested addresses. On failure the previous allocation stays.
   */
  assign(service: ServiceRequest, ips: readonly IPAddress[]): AllocationResult {
    return this.assignIPs(service, ips, this.services.get(service.key)?.pool);
  }

  /**
   * Gives the service the addresses it should have. A current allocation that still fits the
   * request is kept (with PreferDualStack, the missing family is added from the same pool when
   * possible). Otherwise, in MetalLB's order: the requested addresses exactly; else the
   * requested pool (autoAssign ignored); else pinned pools by priority, then autoAssign pools
   * without serviceAllocation. On failure the service holds nothing.
   */
  allocate(service: ServiceRequest): AllocationResult {
    const wanted = wantedFamilies(service);
    const current = this.services.get(service.key);
    if (current !== undefined && requestedFamilyMismatch(service) !== undefined) this.release(service.key);
    else if (current !== undefined) {
      const kept = this.revalidate(current, service, wanted);
      if (kept !== undefined) return kept;
      this.release(service.key);
    }

    if (service.requestedIPs.length > 0) {
      const mismatch = requestedFamilyMismatch(service);
      if (mismatch !== undefined) return fail(mismatch);
      if (wanted.mode === 'require' && service.requestedIPs.length !== 2) {
        return fail(
          failures.invalidRequest(
            `service ${service.key} is RequireDualStack and needs one IPv4 and one IPv6 address in metallb.io/loadBalancerIPs, not ${service.requestedIPs.map(formatIP).join(', ')}`,
          ),
        );
      }
      return this.assignIPs(service, service.requestedIPs, undefined);
    }

    if (service.requestedPool !== undefined) {
      const pool = this.pools.get(service.requestedPool);
      if (pool === undefined) return fail(failures.unknownPool(service.requestedPool));
      if (!poolAcceptsService(pool.def, service))
        return fail(failures.poolDoesNotMatch(pool.def.name, service.key));
      return this.takeFrom([pool], service, wanted) ?? fail(this.explain([pool], wanted));
    }

    const [pinned, fallback] = autoAssignTiers(this.poolList, service);
    if (pinned.length === 0 && fallback.length === 0) return fail(failures.noMatchingPool(service.key));
    for (const tier of [pinned, fallback]) {
      const taken = tier.length > 0 ? this.takeFrom(tier, service, wanted) : undefined;
      if (taken !== undefined) return taken;
    }
    return fail(this.explain([...pinned, ...fallback], wanted));
  }

  /** Frees whatever the service holds; false when it held nothing. */
  release(serviceKey: string): boolean {
    const rec = this.services.get(serviceKey);
    if (rec === undefined) return false;
    for (const use of this.detach(rec)) this.vacate(use);
    return true;
  }

  allocationOf(serviceKey: string): Allocation | undefined {
    const rec = this.services.get(serviceKey);
    return rec === undefined ? undefined : { pool: rec.pool, ips: rec.uses.map(toAddress) };
  }

  /** Every allocation, by service key in code-unit order. */
  allocations(): [string, Allocation][] {
    return [...this.services.keys()].sort(compareNames).map((k) => [k, this.allocationOf(k)!]);
  }

  /** Who holds an address (several services when shared, sorted), for "taken by" messages. */
  ownerOf(ip: IPAddress): { pool: string; services: string[] } | undefined {
    const use = this.usesOf(ip.family).get(ip.value);
    if (use === undefined) return undefined;
    return { pool: use.pool, services: use.users.map((u) => u.request.key).sort(compareNames) };
  }

  /** Counters for IPAddressPool status and metrics; undefined for an unknown pool. */
  usage(poolName: string): PoolUsage | undefined {
    const pool = this.pools.get(poolName);
    if (pool === undefined) return undefined;
    return { ipv4: familyUsage(pool.v4), ipv6: familyUsage(pool.v6) };
  }

  poolNames(): string[] {
    return this.poolList.map((p) => p.def.name);
  }

  get serviceCount(): number {
    return this.services.size;
  }

  // ---- checks ----

  private revalidate(rec: ServiceRecord, req: ServiceRequest, wanted: Wanted): AllocationResult | undefined {
    const uses = rec.uses;
    if (req.requestedIPs.length > 0) {
      const same =
        req.requestedIPs.length === uses.length &&
        req.requestedIPs.every((ip) => uses.some((u) => u.family === ip.family && u.value === ip.value));
      if (!same) return undefined;
    }
    if (req.requestedPool !== undefined && req.requestedPool !== rec.pool) return undefined;
    const allowed = wanted.mode === 'single' ? [wanted.primary] : [wanted.primary, wanted.secondary];
    if (!uses.every((u) => allowed.includes(u.family))) return undefined;
    if (wanted.mode === 'require' && uses.length !== 2) return undefined;
    const pool = this.pools.get(rec.pool);
    if (pool === undefined || !poolAcceptsService(pool.def, req)) return undefined;
    for (const use of uses) if (this.sharingFailure(use, req) !== undefined) return undefined;

    const ips = uses.map(toAddress);
    if (wanted.mode === 'prefer' && uses.length === 1 && req.requestedIPs.length === 0) {
      // MetalLB adds the missing family later, from the same pool, keeping the first address.
      const missing = uses[0]!.family === wanted.primary ? wanted.secondary : wanted.primary;
      const value = this.candidate(pool, missing, req);
      if (value !== undefined) ips.push({ family: missing, value });
    }
    this.release(req.key);
    return ok(this.record(req, pool, ips));
  }

  private assignIPs(
    req: ServiceRequest,
    ips: readonly IPAddress[],
    preferredPool: string | undefined,
  ): AllocationResult {
    const wanted = wantedFamilies(req);
    const shown = ips.map(formatIP).join(', ');
    if (ips.length === 0 || ips.length > 2) {
      return fail(
        failures.invalidRequest(
          `service ${req.key} asks for ${ips.length} addresses; give one, or one per family`,
        ),
      );
    }
    if (ips.length === 2 && ips[0]!.family === ips[1]!.family) {
      return fail(
        failures.invalidRequest(
          `service ${req.key} asks for two ${familyName(ips[0]!.family)} addresses (${shown}); give one per family`,
        ),
      );
    }
    const allowed = wanted.mode === 'single' ? [wanted.primary] : [wanted.primary, wanted.secondary];
    for (const ip of ips) {
      if (!allowed.includes(ip.family)) {
        return fail(
          failures.invalidRequest(
            `service ${req.key} asks for ${formatIP(ip)} but is ${familyName(wanted.primary)} single-stack (spec.ipFamilies, spec.ipFamilyPolicy)`,
          ),
        );
      }
    }

    const holders = this.poolList.filter((p) => this.poolHoldsAll(p, ips));
    if (holders.length === 0) {
      for (const ip of ips) {
        if (this.poolList.some((p) => spaceOf(p, ip.family)?.contains(ip.value))) continue;
        const skippedBy = this.poolList.find((p) => spaceOf(p, ip.family)?.coversSkipped(ip.value));
        return fail(failures.ipNotInAnyPool(ip, skippedBy?.def.name));
      }
      return fail(
        failures.invalidRequest(
          `${shown} are in different IPAddressPools; a dual-stack service takes both addresses from one pool`,
        ),
      );
    }

    let pool: PoolState | undefined;
    if (req.requestedPool !== undefined) {
      const requested = this.pools.get(req.requestedPool);
      if (requested === undefined) return fail(failures.unknownPool(req.requestedPool));
      if (!holders.includes(requested)) {
        const outside = ips.find((ip) => !spaceOf(requested, ip.family)?.contains(ip.value)) ?? ips[0]!;
        return fail(failures.ipNotInRequestedPool(outside, requested.def.name));
      }
      if (!poolAcceptsService(requested.def, req))
        return fail(failures.poolDoesNotMatch(requested.def.name, req.key));
      pool = requested;
    } else {
      const accepting = holders.filter((p) => poolAcceptsService(p.def, req));
      pool = accepting.find((p) => p.def.name === preferredPool) ?? accepting[0];
      if (pool === undefined) return fail(failures.poolDoesNotMatch(holders[0]!.def.name, req.key));
    }

    for (const ip of ips) {
      const use = this.usesOf(ip.family).get(ip.value);
      const conflict = use === undefined ? undefined : this.sharingFailure(use, req);
      if (conflict !== undefined) return fail(conflict);
    }
    this.release(req.key);
    return ok(this.record(req, pool, [...ips]));
  }

  /**
   * Whether the service may use an address others already use (MetalLB sharing rules): same
   * non-empty sharing key, same backend key, no (protocol, port) in common. A sole owner may
   * change its own keys freely.
   */
  private sharingFailure(use: IpUse, req: ServiceRequest): AllocationFailure | undefined {
    let owner: ServiceRecord | undefined;
    for (const u of use.users) {
      if (u.request.key !== req.key && (owner === undefined || u.request.key < owner.request.key)) owner = u;
    }
    if (owner === undefined) return undefined;
    const ip = toAddress(use);
    if (use.sharingKey === '' || req.sharingKey === '') return failures.ipInUse(ip, owner.request.key);
    if (use.sharingKey !== req.sharingKey) {
      return failures.sharingKeyMismatch(ip, owner.request.key, use.sharingKey, req.sharingKey);
    }
    if (use.backendKey !== req.backendKey) return failures.sharingBackendMismatch(ip, owner.request.key);
    for (const port of req.ports) {
      for (const u of use.users) {
        if (u.request.key === req.key) continue;
        if (u.request.ports.some((p) => p.protocol === port.protocol && p.port === port.port)) {
          return failures.sharingPortOverlap(ip, u.request.key, port);
        }
      }
    }
    return undefined;
  }

  // ---- choosing ----

  /** Tries the pools in order (MetalLB findBestPoolForService) and records the first fit. */
  private takeFrom(
    pools: readonly PoolState[],
    req: ServiceRequest,
    wanted: Wanted,
  ): AllocationResult | undefined {
    const pick = this.pick(pools, req, wanted);
    return pick === undefined ? undefined : ok(this.record(req, pick.pool, pick.ips));
  }

  private pick(pools: readonly PoolState[], req: ServiceRequest, wanted: Wanted): Pick | undefined {
    let primaryOnly: Pick | undefined;
    let secondaryOnly: Pick | undefined;
    for (const pool of pools) {
      const a = this.candidate(pool, wanted.primary, req);
      if (wanted.mode === 'single') {
        if (a !== undefined) return { pool, ips: [{ family: wanted.primary, value: a }] };
        continue;
      }
      const b = this.candidate(pool, wanted.secondary, req);
      if (a !== undefined && b !== undefined) {
        // IPv4 first whatever the primary family, as MetalLB writes a new dual-stack pair
        // (internal/allocator/allocation.go selectIPsForFamilyAndPolicy); its speaker elects
        // the L2 announcer by the first address, so the order is part of the contract.
        const pair: IPAddress[] = [
          { family: wanted.primary, value: a },
          { family: wanted.secondary, value: b },
        ];
        return { pool, ips: pair.sort((x, y) => x.family - y.family) };
      }
      // PreferDualStack: a pool with both families anywhere in the list beats a single-family
      // one earlier in it; failing that, the first pool with the primary family, then the
      // first with the secondary.
      if (wanted.mode === 'prefer') {
        if (a !== undefined) primaryOnly ??= { pool, ips: [{ family: wanted.primary, value: a }] };
        if (b !== undefined) secondaryOnly ??= { pool, ips: [{ family: wanted.secondary, value: b }] };
      }
    }
    return primaryOnly ?? secondaryOnly;
  }

  /**
   * The address this pool would give the service in one family: the lowest address already
   * shared compatibly under the service's sharing key, else the lowest free address (ranges
   * in listed order, avoidBuggyIPs honoured by the slot space).
   */
  private candidate(pool: PoolState, family: IPFamily, req: ServiceRequest): bigint | undefined {
    const space = spaceOf(pool, family);
    if (space === undefined) return undefined;
    if (req.sharingKey !== '') {
      let best: IpUse | undefined;
      let bestIndex = 0;
      for (const use of this.bySharingKey.get(req.sharingKey) ?? []) {
        if (use.family !== family || !space.contains(use.value)) continue;
        if (this.sharingFailure(use, req) !== undefined) continue;
        const index = space.rangeIndexOf(use.value);
        if (best === undefined || index < bestIndex || (index === bestIndex && use.value < best.value)) {
          best = use;
          bestIndex = index;
        }
      }
      if (best !== undefined) return best.value;
    }
    return space.lowestFree();
  }

  /** Why none of the pools could serve the service. */
  private explain(pools: readonly PoolState[], wanted: Wanted): AllocationFailure {
    const has = (p: PoolState, f: IPFamily): boolean => (spaceOf(p, f)?.capacity ?? 0n) > 0n;
    const names = pools.map((p) => p.def.name);
    if (wanted.mode === 'single') {
      const offering = pools.filter((p) => has(p, wanted.primary)).map((p) => p.def.name);
      return offering.length === 0
        ? failures.familyUnavailable([wanted.primary], names)
        : failures.poolExhausted(offering, [wanted.primary]);
    }
    const both = [wanted.primary, wanted.secondary];
    const offering = pools
      .filter((p) =>
        wanted.mode === 'require'
          ? has(p, wanted.primary) && has(p, wanted.secondary)
          : has(p, wanted.primary) || has(p, wanted.secondary),
      )
      .map((p) => p.def.name);
    return offering.length === 0
      ? failures.familyUnavailable(both, names, wanted.mode === 'prefer')
      : failures.poolExhausted(offering, both);
  }

  // ---- bookkeeping ----

  /** Records a checked allocation. The service must hold nothing. */
  private record(req: ServiceRequest, pool: PoolState, ips: IPAddress[]): Allocation {
    // Arrays are built at their final size: an empty array that is then pushed to reserves 17
    // slots, which at 100,000 services is most of the allocator's memory.
    const rec: ServiceRecord = { request: req, pool: pool.def.name, uses: new Array<IpUse>(ips.length) };
    ips.forEach((ip, i) => {
      const map = this.usesOf(ip.family);
      let use = map.get(ip.value);
      if (use === undefined) {
        use = {
          family: ip.family,
          value: ip.value,
          pool: pool.def.name,
          sharingKey: req.sharingKey,
          backendKey: req.backendKey,
          users: [rec],
        };
        map.set(ip.value, use);
        this.occupy(use);
      } else {
        if (use.sharingKey !== req.sharingKey) {
          // Only reachable for a sole owner changing its key (sharingFailure allows nothing else).
          this.unindex(use);
          use.sharingKey = req.sharingKey;
        }
        use.backendKey = req.backendKey;
        use.users.push(rec);
      }
      this.index(use);
      rec.uses[i] = use;
    });
    this.services.set(req.key, rec);
    return { pool: rec.pool, ips };
  }

  /** Forgets the service; returns the addresses nobody uses any more (not yet vacated). */
  private detach(rec: ServiceRecord): IpUse[] {
    this.services.delete(rec.request.key);
    const emptied: IpUse[] = [];
    for (const use of rec.uses) {
      const i = use.users.indexOf(rec);
      if (i >= 0) use.users.splice(i, 1);
      if (use.users.length === 0) {
        this.usesOf(use.family).delete(use.value);
        this.unindex(use);
        emptied.push(use);
      }
    }
    return emptied;
  }

  /** Marks a newly used address occupied in every pool that holds it, and counts it. */
  private occupy(use: IpUse): void {
    for (const p of this.poolList) {
      const space = spaceOf(p, use.family);
      if (space !== undefined && space.contains(use.value)) space.occupied.add(space.slot(use.value));
    }
    const owner = this.pools.get(use.pool);
    const space = owner === undefined ? undefined : spaceOf(owner, use.family);
    if (space !== undefined) space.assigned++;
  }

  private vacate(use: IpUse): void {
    for (const p of this.poolList) {
      const space = spaceOf(p, use.family);
      if (space !== undefined && space.contains(use.value)) space.occupied.delete(space.slot(use.value));
    }
    const owner = this.pools.get(use.pool);
    const space = owner === undefined ? undefined : spaceOf(owner, use.family);
    if (space !== undefined) space.assigned--;
  }

  private index(use: IpUse): void {
    if (use.sharingKey === '') return;
    let set = this.bySharingKey.get(use.sharingKey);
    if (set === undefined) this.bySharingKey.set(use.sharingKey, (set = new Set()));
    set.add(use);
  }

  private unindex(use: IpUse): void {
    const set = this.bySharingKey.get(use.sharingKey);
    if (set === undefined) return;
    set.delete(use);
    if (set.size === 0) this.bySharingKey.delete(use.sharingKey);
  }

  private usesOf(family: IPFamily): Map<bigint, IpUse> {
    return family === 4 ? this.usesV4 : this.usesV6;
  }

  private poolHoldsAll(pool: PoolState, ips: readonly IPAddress[]): boolean {
    return ips.every((ip) => spaceOf(pool, ip.family)?.contains(ip.value) === true);
  }
}

function buildPoolState(def: AllocatorPool): PoolState {
  let v4: PoolSpace | undefined;
  let v6: PoolSpace | undefined;
  def.ranges.forEach((range, index) => {
    if (range.family === 4) (v4 ??= new PoolSpace(4, def.avoidBuggyIPs)).addRange(index, range);
    else (v6 ??= new PoolSpace(6, false)).addRange(index, range);
  });
  return { def, v4, v6 };
}

function spaceOf(pool: PoolState, family: IPFamily): PoolSpace | undefined {
  return family === 4 ? pool.v4 : pool.v6;
}

function familyUsage(space: PoolSpace | undefined): FamilyUsage {
  if (space === undefined) return EMPTY_USAGE;
  return { assigned: space.assigned, available: space.available, capacity: space.capacity };
}

/**
 * The families a service wants, from spec.ipFamilies and spec.ipFamilyPolicy. PreferDualStack
 * on a single-stack service (one family) is plain single-stack; RequireDualStack always means
 * both families.
 */
function wantedFamilies(req: ServiceRequest): Wanted {
  const primary = req.families[0] ?? 4;
  const other: IPFamily = primary === 4 ? 6 : 4;
  const secondary = req.families[1] ?? other;
  if (req.familyPolicy === 'RequireDualStack') return { mode: 'require', primary, secondary };
  if (req.familyPolicy === 'PreferDualStack' && req.families.length > 1)
    return { mode: 'prefer', primary, secondary };
  return { mode: 'single', primary, secondary };
}

/**
 * Requested addresses must be of exactly the service's families (MetalLB controller/service.go
 * allocateIPs: "does not match the ipFamily of the service"): a dual-stack PreferDualStack
 * service asking for one address is refused rather than silently made single-stack, and a
 * single-stack one cannot ask for two.
 */
function requestedFamilyMismatch(req: ServiceRequest): AllocationFailure | undefined {
  const asked = [...new Set(req.requestedIPs.map((ip) => ip.family))].sort();
  // None, or two of one family: assignIPs explains those.
  if (asked.length === 0 || asked.length < req.requestedIPs.length) return undefined;
  const has = [...new Set(req.families.length > 0 ? req.families : [4 as IPFamily])].sort();
  if (asked.length === has.length && asked.every((f, i) => f === has[i])) return undefined;
  const names = (fs: readonly IPFamily[]) => fs.map(familyName).join(' and ');
  return failures.invalidRequest(
    `service ${req.key} asks for ${req.requestedIPs.map(formatIP).join(', ')} (${names(asked)}) but its cluster IPs are ${names(has)} (spec.ipFamilies); request one address per family of the service`,
  );
}

function toAddress(use: IpUse): IPAddress {
  return { family: use.family, value: use.value };
}

function ok(allocation: Allocation): AllocationResult {
  return { ok: true, allocation };
}

function fail(failure: AllocationFailure): AllocationResult {
  return { ok: false, failure };
}
