// Turns the watched metallb.io objects into one validated, immutable Config (pure).
//
// Single-object rules are enforced by the CRD schema, but they are checked again here: an object
// stored under an older schema must not crash or poison anything. Cross-object rules — pools
// that overlap, references to pools/peers/communities/BFD profiles/Secrets that do not exist,
// conflicting localPref — are only checkable here. A problem disables the object it belongs to
// (severity 'error') or is a 'warning' (the object works, perhaps not as meant); every other
// object stays in force. Conflicts are settled in favour of the oldest object, so creating a new
// bad object never takes an existing, working one down.

import { labelSelectorProblems, matchesLabelSelector, type LabelSelector } from '../kube/label-selector.js';
import {
  IPParseError,
  parseAddressSpec,
  parseIP,
  rangesOverlap,
  rangeToCIDRs,
  formatCIDR,
  formatRange,
  type IPRange,
} from '../ip/index.js';
import {
  asRecord,
  bool,
  byAge,
  labelSelector,
  meta,
  num,
  parseDuration,
  records,
  spec,
  str,
  strings,
  type Raw,
} from './raw.js';
import type {
  BFDProfile,
  BGPAdvertisement,
  BGPPeer,
  BgpCommunity,
  Config,
  ConfigKind,
  ConfigProblem,
  L2Advertisement,
  ObjectRef,
  Pool,
  PreferredNodeSelector,
} from './types.js';

export interface ConfigInput {
  /** The namespace the configuration lives in (metallb-system). */
  namespace: string;
  pools: readonly object[];
  l2Advertisements: readonly object[];
  bgpAdvertisements: readonly object[];
  peers: readonly object[];
  communities: readonly object[];
  bfdProfiles: readonly object[];
  /** Secrets of the namespace; undefined when this process may not read them (the controller). */
  secrets?: readonly object[];
}

class Problems {
  readonly list: ConfigProblem[] = [];
  private readonly failed = new Set<string>();

  add(p: Omit<ConfigProblem, 'severity'> & { severity?: ConfigProblem['severity'] }): void {
    const severity = p.severity ?? 'error';
    this.list.push({ ...p, severity });
    if (severity === 'error') this.failed.add(key(p.ref));
  }

  ok(ref: ObjectRef): boolean {
    return !this.failed.has(key(ref));
  }
}

const key = (r: ObjectRef) => `${r.kind}/${r.namespace}/${r.name}`;
const refOf = (kind: ConfigKind, obj: unknown): ObjectRef => {
  const m = meta(obj);
  return { kind, namespace: m.namespace, name: m.name };
};

function checkSelectors(
  problems: Problems,
  ref: ObjectRef,
  field: string,
  selectors: readonly LabelSelector[],
  /** Refuse repeated selectors and values, on the fields where MetalLB refuses them. */
  unique = false,
): void {
  const seen = new Map<string, number>();
  selectors.forEach((sel, i) => {
    for (const message of labelSelectorProblems(sel)) problems.add({ ref, field: `${field}[${i}]`, message });
    if (!unique) return;
    checkSelectorDuplicates(problems, ref, `${field}[${i}]`, sel);
    const canonical = selectorKey(sel);
    const first = seen.get(canonical);
    if (first === undefined) seen.set(canonical, i);
    else
      problems.add({
        ref,
        field: `${field}[${i}]`,
        value: canonical,
        message: `repeats ${field}[${first}]; list each selector once`,
      });
  });
}

/**
 * The same value twice in one matchExpressions entry, or the same requirement twice, is refused
 * as MetalLB's config parser does (internal/config/config.go validateLabelSelectorDuplicate): a
 * repeated entry is almost always a typo for another one.
 */
function checkSelectorDuplicates(
  problems: Problems,
  ref: ObjectRef,
  field: string,
  sel: LabelSelector,
): void {
  const requirements = new Map<string, number>();
  (sel.matchExpressions ?? []).forEach((req, j) => {
    checkDuplicates(problems, ref, `${field}.matchExpressions[${j}].values`, req.values ?? []);
    const canonical = requirementKey(req);
    const first = requirements.get(canonical);
    if (first === undefined) requirements.set(canonical, j);
    else
      problems.add({
        ref,
        field: `${field}.matchExpressions[${j}]`,
        value: canonical,
        message: `repeats ${field}.matchExpressions[${first}]; list each requirement once`,
      });
  });
}

/** A list that must not hold the same entry twice (pools, peers, communities, namespaces). */
function checkDuplicates(problems: Problems, ref: ObjectRef, field: string, list: readonly string[]): void {
  const first = new Map<string, number>();
  list.forEach((value, i) => {
    const at = first.get(value);
    if (at === undefined) first.set(value, i);
    else
      problems.add({
        ref,
        field: `${field}[${i}]`,
        value,
        message: `repeats ${field}[${at}]; list each entry once`,
      });
  });
}

/** One spelling per meaning: matchLabels by key, values sorted, as MetalLB compares them. */
function selectorKey(sel: LabelSelector): string {
  const labels = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  const exprs = (sel.matchExpressions ?? []).map(requirementKey);
  return `{${[...labels, ...exprs].join(', ')}}`;
}

function requirementKey(req: { key: string; operator: string; values?: readonly string[] }): string {
  return `${req.key} ${req.operator} (${[...(req.values ?? [])].sort().join(',')})`;
}

// ---------------------------------------------------------------- pools

interface PoolCandidate {
  pool: Pool;
  obj: object;
}

function parsePool(problems: Problems, obj: object): PoolCandidate | undefined {
  const ref = refOf('IPAddressPool', obj);
  const s = spec(obj);
  const addresses = strings(s.addresses);
  if (addresses.length === 0)
    problems.add({ ref, field: 'spec.addresses', message: 'a pool needs at least one CIDR or range' });
  const ranges: IPRange[] = [];
  addresses.forEach((text, i) => {
    try {
      const parsed = parseAddressSpec(text);
      ranges.push(parsed.range);
      if (parsed.cidr?.hostBitsSet)
        problems.add({
          ref,
          field: `spec.addresses[${i}]`,
          value: text,
          severity: 'warning',
          message: `host bits are set; the pool uses the whole network ${formatRange(parsed.range)}`,
        });
    } catch (err) {
      if (!(err instanceof IPParseError)) throw err;
      problems.add({ ref, field: `spec.addresses[${i}]`, value: text, message: err.reason });
    }
  });
  const sa = asRecord(s.serviceAllocation);
  const serviceAllocation = sa && {
    ...(num(sa.priority) !== undefined ? { priority: num(sa.priority)! } : {}),
    namespaces: strings(sa.namespaces),
    namespaceSelectors: records(sa.namespaceSelectors).map(labelSelector),
    serviceSelectors: records(sa.serviceSelectors).map(labelSelector),
  };
  if (serviceAllocation) {
    checkDuplicates(problems, ref, 'spec.serviceAllocation.namespaces', serviceAllocation.namespaces);
    checkSelectors(
      problems,
      ref,
      'spec.serviceAllocation.namespaceSelectors',
      serviceAllocation.namespaceSelectors,
      true,
    );
    checkSelectors(
      problems,
      ref,
      'spec.serviceAllocation.serviceSelectors',
      serviceAllocation.serviceSelectors,
      true,
    );
  }
  if (!problems.ok(ref)) return undefined;
  return {
    obj,
    pool: {
      ref,
      name: ref.name,
      addresses,
      ranges,
      autoAssign: bool(s.autoAssign) ?? true,
      avoidBuggyIPs: bool(s.avoidBuggyIPs) ?? false,
      labels: meta(obj).labels,
      ...(serviceAllocation ? { serviceAllocation } : {}),
    },
  };
}

/** Accepts pools oldest first; a pool overlapping an accepted one is disabled, naming both. */
function acceptPools(problems: Problems, candidates: PoolCandidate[]): Map<string, Pool> {
  const accepted = new Map<string, Pool>();
  for (const { pool } of candidates) {
    let clash: { other: Pool; mine: number; theirs: number } | undefined;
    for (const other of accepted.values()) {
      pool.ranges.forEach((r, mine) =>
        other.ranges.forEach((o, theirs) => {
          if (!clash && rangesOverlap(r, o)) clash = { other, mine, theirs };
        }),
      );
      if (clash) break;
    }
    if (clash) {
      const { other, mine, theirs } = clash;
      problems.add({
        ref: pool.ref,
        field: `spec.addresses[${mine}]`,
        value: pool.addresses[mine]!,
        related: [other.ref],
        message: `overlaps ${other.addresses[theirs]} of IPAddressPool ${other.ref.namespace}/${other.name}, which is older and stays in force; pools must not overlap`,
      });
      problems.add({
        ref: other.ref,
        field: `spec.addresses[${theirs}]`,
        value: other.addresses[theirs]!,
        related: [pool.ref],
        severity: 'warning',
        message: `IPAddressPool ${pool.ref.namespace}/${pool.name} overlaps this pool and was disabled`,
      });
      continue;
    }
    accepted.set(pool.name, pool);
  }
  return accepted;
}

// ------------------------------------------------------- advertisements

/** Pools an advertisement applies to: named ∪ selected; neither given ⇒ every pool. */
function selectPools(
  problems: Problems,
  ref: ObjectRef,
  s: Raw,
  pools: ReadonlyMap<string, Pool>,
  allPoolNames: ReadonlySet<string>,
): string[] {
  const named = strings(s.ipAddressPools);
  const selectors = records(s.ipAddressPoolSelectors).map(labelSelector);
  checkDuplicates(problems, ref, 'spec.ipAddressPools', named);
  checkSelectors(problems, ref, 'spec.ipAddressPoolSelectors', selectors, true);
  if (named.length === 0 && selectors.length === 0) return [...pools.keys()];
  const out = new Set<string>();
  named.forEach((name, i) => {
    if (pools.has(name)) out.add(name);
    else
      problems.add({
        ref,
        field: `spec.ipAddressPools[${i}]`,
        value: name,
        severity: 'warning',
        related: [{ kind: 'IPAddressPool', namespace: ref.namespace, name }],
        message: allPoolNames.has(name)
          ? `IPAddressPool ${ref.namespace}/${name} is invalid, so it is not advertised`
          : `there is no IPAddressPool ${ref.namespace}/${name}`,
      });
  });
  for (const pool of pools.values())
    if (selectors.some((sel) => matchesLabelSelector(sel, pool.labels))) out.add(pool.name);
  return [...out].sort();
}

function parseL2(
  problems: Problems,
  obj: object,
  pools: ReadonlyMap<string, Pool>,
  all: ReadonlySet<string>,
) {
  const ref = refOf('L2Advertisement', obj);
  const s = spec(obj);
  const nodeSelectors = records(s.nodeSelectors).map(labelSelector);
  const serviceSelectors = records(s.serviceSelectors).map(labelSelector);
  checkSelectors(problems, ref, 'spec.nodeSelectors', nodeSelectors, true);
  checkSelectors(problems, ref, 'spec.serviceSelectors', serviceSelectors);
  const preferredNodeSelectors: PreferredNodeSelector[] = records(s.preferredNodeSelectors).map((p, i) => {
    const weight = num(p.weight) ?? 0;
    if (weight < 1 || weight > 100)
      problems.add({
        ref,
        field: `spec.preferredNodeSelectors[${i}].weight`,
        value: String(weight),
        message: 'weight must be 1 to 100',
      });
    return { weight, preference: labelSelector(p.preference) };
  });
  const ad: L2Advertisement = {
    ref,
    pools: selectPools(problems, ref, s, pools, all),
    nodeSelectors,
    interfaces: strings(s.interfaces),
    serviceSelectors,
    preferredNodeSelectors,
  };
  return problems.ok(ref) ? ad : undefined;
}

const u16 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffff;
const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** `65000:100` (RFC 1997) or `large:1:2:3` (RFC 8092); undefined if neither. */
export function parseCommunity(text: string): BgpCommunity | undefined {
  const large = /^large:(\d+):(\d+):(\d+)$/.exec(text);
  if (large) {
    const [g, a, b] = [Number(large[1]), Number(large[2]), Number(large[3])];
    return u32(g) && u32(a) && u32(b) ? { kind: 'large', global: g, local1: a, local2: b } : undefined;
  }
  const std = /^(\d+):(\d+)$/.exec(text);
  if (std) {
    const [hi, lo] = [Number(std[1]), Number(std[2])];
    return u16(hi) && u16(lo) ? { kind: 'standard', value: hi * 0x10000 + lo } : undefined;
  }
  return undefined;
}

function parseCommunities(problems: Problems, objs: readonly object[]): Map<string, BgpCommunity> {
  const aliases = new Map<string, { value: BgpCommunity; ref: ObjectRef }>();
  for (const obj of [...objs].sort(byAge)) {
    const ref = refOf('Community', obj);
    const mine = new Map<string, BgpCommunity>();
    records(spec(obj).communities).forEach((c, i) => {
      const name = str(c.name) ?? '';
      const text = str(c.value) ?? '';
      const value = parseCommunity(text);
      if (!value)
        problems.add({
          ref,
          field: `spec.communities[${i}].value`,
          value: text,
          message: 'want "N:N" (16-bit each) or "large:N:N:N" (32-bit each)',
        });
      const prior = aliases.get(name);
      if (prior)
        problems.add({
          ref,
          field: `spec.communities[${i}].name`,
          value: name,
          related: [prior.ref],
          message: `alias is already defined by Community ${prior.ref.namespace}/${prior.ref.name}; alias names must be unique`,
        });
      if (value) mine.set(name, value);
    });
    if (problems.ok(ref)) for (const [name, value] of mine) aliases.set(name, { value, ref });
  }
  return new Map([...aliases].map(([n, v]) => [n, v.value]));
}

function parseBgpAd(
  problems: Problems,
  obj: object,
  pools: ReadonlyMap<string, Pool>,
  all: ReadonlySet<string>,
  aliases: ReadonlyMap<string, BgpCommunity>,
  peerNames: ReadonlySet<string>,
): BGPAdvertisement | undefined {
  const ref = refOf('BGPAdvertisement', obj);
  const s = spec(obj);
  const nodeSelectors = records(s.nodeSelectors).map(labelSelector);
  const serviceSelectors = records(s.serviceSelectors).map(labelSelector);
  checkSelectors(problems, ref, 'spec.nodeSelectors', nodeSelectors, true);
  checkSelectors(problems, ref, 'spec.serviceSelectors', serviceSelectors);
  const communities: BgpCommunity[] = [];
  checkDuplicates(problems, ref, 'spec.communities', strings(s.communities));
  strings(s.communities).forEach((text, i) => {
    const value = parseCommunity(text) ?? aliases.get(text);
    if (value) communities.push(value);
    else
      problems.add({
        ref,
        field: `spec.communities[${i}]`,
        value: text,
        message: /[:]/.test(text)
          ? 'not a valid community: want "N:N" or "large:N:N:N"'
          : `no Community object defines the alias "${text}"`,
      });
  });
  const peers = strings(s.peers);
  checkDuplicates(problems, ref, 'spec.peers', peers);
  peers.forEach((name, i) => {
    if (!peerNames.has(name))
      problems.add({
        ref,
        field: `spec.peers[${i}]`,
        value: name,
        severity: 'warning',
        related: [{ kind: 'BGPPeer', namespace: ref.namespace, name }],
        message: `there is no valid BGPPeer ${ref.namespace}/${name}; nothing is announced to it`,
      });
  });
  const ad: BGPAdvertisement = {
    ref,
    pools: selectPools(problems, ref, s, pools, all),
    aggregationLength: num(s.aggregationLength) ?? 32,
    aggregationLengthV6: num(s.aggregationLengthV6) ?? 128,
    ...(num(s.localPref) !== undefined ? { localPref: num(s.localPref)! } : {}),
    communities,
    peers,
    nodeSelectors,
    serviceSelectors,
  };
  checkAggregation(problems, ref, ad, pools);
  return problems.ok(ref) ? ad : undefined;
}

/**
 * An aggregated prefix may not be wider than the pool's own blocks: aggregationLength 26 over a
 * pool entry 10.0.0.0/28 would announce a /26 of which Beacon owns a quarter (MetalLB refuses
 * the same). A range counts as the CIDR blocks it splits into, and its widest block sets the
 * limit (10.9.0.1-10.9.0.9 holds 10.9.0.4/30, so /30 is allowed and /29 is not).
 */
function checkAggregation(
  problems: Problems,
  ref: ObjectRef,
  ad: BGPAdvertisement,
  pools: ReadonlyMap<string, Pool>,
): void {
  for (const name of ad.pools) {
    const pool = pools.get(name);
    if (pool === undefined) continue;
    for (const range of pool.ranges) {
      const [field, length] =
        range.family === 4
          ? (['spec.aggregationLength', ad.aggregationLength] as const)
          : (['spec.aggregationLengthV6', ad.aggregationLengthV6] as const);
      // The range's widest block (MetalLB's lowest mask) sets the limit.
      const block = rangeToCIDRs(range).reduce((a, b) => (b.prefixLength < a.prefixLength ? b : a));
      if (block.prefixLength <= length) continue;
      problems.add({
        ref,
        field,
        value: String(length),
        related: [pool.ref],
        message: `IPAddressPool ${pool.ref.namespace}/${name} holds ${formatCIDR(block)}, more specific than a /${length}: the aggregate would announce addresses outside the pool; use ${field.slice(5)} ${block.prefixLength} or more`,
      });
      return;
    }
  }
}

/**
 * Two advertisements giving one route of a pool different localPref: the newer loses. They
 * give one route (MetalLB, internal/config/config.go advertisementsAreCompatible) unless the
 * aggregation lengths differ for the pool's families (a different prefix), or both name peers
 * and no peer is common, or their nodes differ. MetalLB resolves nodeSelectors against the
 * Nodes of the moment; the Config is built without Nodes, so only selectors that surely share
 * a node (either is empty, or both list the same selectors) count as a clash. On a node that
 * two differently-selected advertisements both reach, the BGP planner sends the higher value.
 */
function dropLocalPrefConflicts(
  problems: Problems,
  ads: BGPAdvertisement[],
  pools: ReadonlyMap<string, Pool>,
): BGPAdvertisement[] {
  const kept: BGPAdvertisement[] = [];
  for (const ad of ads) {
    let clash: { other: BGPAdvertisement; pool: string } | undefined;
    if (ad.localPref !== undefined)
      for (const other of kept) {
        if (other.localPref === undefined || other.localPref === ad.localPref) continue;
        const pool = other.pools.find((p) => ad.pools.includes(p) && sameRoutes(ad, other, pools.get(p)));
        if (pool !== undefined) {
          clash = { other, pool };
          break;
        }
      }
    if (clash) {
      const { other, pool } = clash;
      problems.add({
        ref: ad.ref,
        field: 'spec.localPref',
        value: String(ad.localPref),
        related: [other.ref],
        message: `conflicts with localPref ${other.localPref} of BGPAdvertisement ${other.ref.namespace}/${other.ref.name}, which gives the same routes of pool ${pool} to the same peers from the same nodes; give them different aggregation lengths, peers or nodeSelectors`,
      });
      continue;
    }
    kept.push(ad);
  }
  return kept;
}

/** Whether two advertisements of a pool give the same prefixes to a common peer from a common node. */
function sameRoutes(a: BGPAdvertisement, b: BGPAdvertisement, pool: Pool | undefined): boolean {
  if (pool === undefined) return false;
  const v4 = pool.ranges.some((r) => r.family === 4);
  const v6 = pool.ranges.some((r) => r.family === 6);
  const v4Differs = v4 && a.aggregationLength !== b.aggregationLength;
  const v6Differs = v6 && a.aggregationLengthV6 !== b.aggregationLengthV6;
  // A dual-stack pool gives different routes only when both families' lengths differ.
  if (v4 && v6 ? v4Differs && v6Differs : v4Differs || v6Differs) return false;
  if (a.peers.length > 0 && b.peers.length > 0 && !a.peers.some((p) => b.peers.includes(p))) return false;
  if (a.nodeSelectors.length > 0 && b.nodeSelectors.length > 0) {
    const keys = (ad: BGPAdvertisement) => ad.nodeSelectors.map(selectorKey).sort().join('|');
    if (keys(a) !== keys(b)) return false;
  }
  return true;
}

// ------------------------------------------------------------ BFD, peers

function parseBfd(problems: Problems, obj: object): BFDProfile | undefined {
  const ref = refOf('BFDProfile', obj);
  const s = spec(obj);
  const ranged = (field: string, dflt: number, min: number, max: number): number => {
    const v = num(s[field]) ?? dflt;
    if (!Number.isInteger(v) || v < min || v > max)
      problems.add({ ref, field: `spec.${field}`, value: String(v), message: `must be ${min} to ${max}` });
    return v;
  };
  const profile: BFDProfile = {
    ref,
    receiveInterval: ranged('receiveInterval', 300, 10, 60000),
    transmitInterval: ranged('transmitInterval', 300, 10, 60000),
    detectMultiplier: ranged('detectMultiplier', 3, 2, 255),
    echoInterval: ranged('echoInterval', 50, 10, 60000),
    echoMode: bool(s.echoMode) ?? false,
    passiveMode: bool(s.passiveMode) ?? false,
    minimumTtl: ranged('minimumTtl', 254, 1, 254),
  };
  if (profile.echoMode)
    problems.add({
      ref,
      field: 'spec.echoMode',
      value: 'true',
      severity: 'warning',
      message: 'BFD echo mode is not supported; asynchronous mode is used',
    });
  return problems.ok(ref) ? profile : undefined;
}

const basicAuth = 'kubernetes.io/basic-auth';

function secretPassword(secret: object | undefined): string | undefined {
  const r = asRecord(secret);
  const b64 = str(asRecord(r?.data)?.password);
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return str(asRecord(r?.stringData)?.password);
}

/**
 * Whether spec.`field` was last written through `apiVersion`: the API server keeps, in
 * metadata.managedFields, which version each field manager wrote with (server-side field
 * tracking); the entry that owns the field and was written last decides.
 */
function writtenThrough(obj: object, apiVersion: string, field: string): boolean {
  const managed = asRecord(asRecord(obj)?.metadata)?.managedFields;
  const list: unknown[] = Array.isArray(managed) ? managed : [];
  let found: Record<string, unknown> | undefined;
  for (const e of list) {
    const entry = asRecord(e);
    const spec = asRecord(asRecord(entry?.fieldsV1)?.['f:spec']);
    if (entry === undefined || spec?.[`f:${field}`] === undefined) continue;
    if (found === undefined || String(entry.time ?? '') >= String(found.time ?? '')) found = entry;
  }
  return found?.apiVersion === apiVersion;
}

function parsePeer(
  problems: Problems,
  obj: object,
  bfd: ReadonlyMap<string, BFDProfile>,
  allBfd: ReadonlySet<string>,
  secrets: readonly object[] | undefined,
): BGPPeer | undefined {
  const ref = refOf('BGPPeer', obj);
  const s = spec(obj);
  const seconds = (field: string): number | undefined => {
    const text = str(s[field]);
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined) {
      problems.add({
        ref,
        field: `spec.${field}`,
        value: text,
        message: 'not a duration (e.g. "90s", "1m30s")',
      });
      return undefined;
    }
    return ms / 1000;
  };
  const myASN = num(s.myASN);
  if (myASN === undefined || !u32(myASN))
    problems.add({
      ref,
      field: 'spec.myASN',
      value: String(s.myASN),
      message: 'must be an ASN from 0 to 4294967295',
    });
  // AS 0 is reserved (RFC 7607) and MetalLB's peerASN is a plain uint32, so 0 reads as unset
  // (the CRD says so): with dynamicASN it must not become "expect AS 0".
  const givenPeerASN = num(s.peerASN);
  const peerASN = givenPeerASN === 0 ? undefined : givenPeerASN;
  const dynamicASN = str(s.dynamicASN);
  if (peerASN === undefined && dynamicASN === undefined)
    problems.add({ ref, field: 'spec.peerASN', message: 'one of peerASN and dynamicASN is required' });
  const peerAddress = str(s.peerAddress) ?? '';
  if (str(s.interface))
    problems.add({
      ref,
      field: 'spec.interface',
      value: str(s.interface)!,
      message: 'BGP unnumbered peering is not supported: set peerAddress instead',
    });
  else
    try {
      parseIP(peerAddress);
    } catch {
      problems.add({ ref, field: 'spec.peerAddress', value: peerAddress, message: 'not an IP address' });
    }
  // Fields Beacon cannot honour are refused on the peer, never silently ignored.
  for (const field of ['vrf', 'localASN'] as const)
    if (s[field] !== undefined && s[field] !== '' && s[field] !== 0)
      problems.add({
        ref,
        field: `spec.${field}`,
        value: String(s[field]),
        message: `${field} is not supported by Beacon's BGP speaker`,
      });
  if (bool(s.dualStackAddressFamily))
    problems.add({
      ref,
      field: 'spec.dualStackAddressFamily',
      value: 'true',
      severity: 'warning',
      message: 'not supported: each session carries the family of its peer address',
    });
  // v1beta1 timers were plain durations, not pointers: "0s" is what its Go clients send for an
  // unset one, so a zero written through v1beta1 means unset (the CRD says so), as in MetalLB's
  // v1beta1 to v1beta2 conversion. In v1beta2 a holdTime of 0 means no keepalives.
  const timer = (field: 'holdTime' | 'keepaliveTime'): number | undefined => {
    const v = seconds(field);
    return v === 0 && writtenThrough(obj, 'metallb.io/v1beta1', field) ? undefined : v;
  };
  const holdTime = timer('holdTime');
  const keepaliveTime = timer('keepaliveTime');
  const connectTime = seconds('connectTime');
  if (holdTime !== undefined && holdTime !== 0 && holdTime < 3)
    problems.add({
      ref,
      field: 'spec.holdTime',
      value: str(s.holdTime)!,
      message: 'must be 0 or at least 3s (RFC 4271 §4.2)',
    });
  if (keepaliveTime !== undefined && holdTime !== undefined && keepaliveTime > holdTime)
    problems.add({
      ref,
      field: 'spec.keepaliveTime',
      value: str(s.keepaliveTime)!,
      message: 'must not exceed holdTime',
    });
  let password = str(s.password);
  const secretRef = asRecord(s.passwordSecret);
  if (secretRef && secrets !== undefined) {
    const name = str(secretRef.name) ?? '';
    const secretNamespace = str(secretRef.namespace) || ref.namespace;
    const secret = secrets.find((x) => meta(x).name === name);
    const related = [{ kind: 'Secret' as const, namespace: secretNamespace, name }];
    if (secretNamespace !== ref.namespace)
      // The speaker may read Secrets only in its own namespace (its Role), as MetalLB's
      // (config.go looks the name up among the Secrets of its namespace). Taking a same-named
      // Secret from our namespace instead would authenticate with a password nobody meant.
      problems.add({
        ref,
        field: 'spec.passwordSecret.namespace',
        value: secretNamespace,
        related,
        message: `a BGP password Secret must be in the BGPPeer's namespace ${ref.namespace}`,
      });
    else if (!secret)
      problems.add({
        ref,
        field: 'spec.passwordSecret.name',
        value: name,
        related,
        message: `there is no Secret ${related[0]!.namespace}/${name}`,
      });
    else if (str(asRecord(secret)?.type) !== basicAuth)
      // MetalLB reads only kubernetes.io/basic-auth Secrets (internal/config/config.go
      // passwordFromSecretForPeer): the type says the Secret holds a credential, and an Opaque
      // Secret that happens to have a "password" key is not taken for one.
      problems.add({
        ref,
        field: 'spec.passwordSecret.name',
        value: name,
        related,
        message: `Secret ${related[0]!.namespace}/${name} is of type ${JSON.stringify(str(asRecord(secret)?.type) ?? 'Opaque')}; a BGP password Secret must be of type ${basicAuth}`,
      });
    else {
      password = secretPassword(secret);
      if (password === undefined)
        problems.add({
          ref,
          field: 'spec.passwordSecret.name',
          value: name,
          related,
          message: 'the Secret has no "password" key',
        });
    }
  }
  let bfdProfile: BFDProfile | undefined;
  const bfdName = str(s.bfdProfile);
  if (bfdName) {
    bfdProfile = bfd.get(bfdName);
    if (!bfdProfile)
      problems.add({
        ref,
        field: 'spec.bfdProfile',
        value: bfdName,
        related: [{ kind: 'BFDProfile', namespace: ref.namespace, name: bfdName }],
        message: allBfd.has(bfdName)
          ? `BFDProfile ${ref.namespace}/${bfdName} is invalid`
          : `there is no BFDProfile ${ref.namespace}/${bfdName}`,
      });
  }
  const nodeSelectors = records(s.nodeSelectors).map(labelSelector);
  checkSelectors(problems, ref, 'spec.nodeSelectors', nodeSelectors, true);
  if (!problems.ok(ref)) return undefined;
  return {
    ref,
    myASN: myASN!,
    ...(peerASN !== undefined ? { peerASN } : {}),
    ...(dynamicASN === 'internal' || dynamicASN === 'external' ? { dynamicASN } : {}),
    peerAddress,
    peerPort: num(s.peerPort) ?? 179,
    ...(str(s.sourceAddress) ? { sourceAddress: str(s.sourceAddress)! } : {}),
    ...(holdTime !== undefined ? { holdTime } : {}),
    ...(keepaliveTime !== undefined ? { keepaliveTime } : {}),
    ...(connectTime !== undefined ? { connectTime } : {}),
    ...(str(s.routerID) ? { routerID: str(s.routerID)! } : {}),
    nodeSelectors,
    ...(password ? { password } : {}),
    ...(bfdProfile ? { bfdProfile } : {}),
    enableGracefulRestart: bool(s.enableGracefulRestart) ?? false,
    ebgpMultiHop: bool(s.ebgpMultiHop) ?? false,
  };
}

// --------------------------------------------------------------- build

export function buildConfig(input: ConfigInput): Config {
  const problems = new Problems();
  const inNs = (objs: readonly object[]) =>
    [...objs].filter((o) => meta(o).namespace === input.namespace).sort(byAge);

  const poolObjs = inNs(input.pools);
  const allPoolNames = new Set(poolObjs.map((o) => meta(o).name));
  const candidates = poolObjs
    .map((o) => parsePool(problems, o))
    .filter((c): c is PoolCandidate => c !== undefined);
  const pools = acceptPools(problems, candidates);

  const bfdObjs = inNs(input.bfdProfiles);
  const bfdProfiles = new Map<string, BFDProfile>();
  for (const o of bfdObjs) {
    const p = parseBfd(problems, o);
    if (p) bfdProfiles.set(p.ref.name, p);
  }
  const peers = new Map<string, BGPPeer>();
  for (const o of inNs(input.peers)) {
    const p = parsePeer(problems, o, bfdProfiles, new Set(bfdObjs.map((b) => meta(b).name)), input.secrets);
    if (p) peers.set(p.ref.name, p);
  }
  const aliases = parseCommunities(problems, inNs(input.communities));
  const l2Advertisements = inNs(input.l2Advertisements)
    .map((o) => parseL2(problems, o, pools, allPoolNames))
    .filter((a): a is L2Advertisement => a !== undefined);
  const bgpAdvertisements = dropLocalPrefConflicts(
    problems,
    inNs(input.bgpAdvertisements)
      .map((o) => parseBgpAd(problems, o, pools, allPoolNames, aliases, new Set(peers.keys())))
      .filter((a): a is BGPAdvertisement => a !== undefined),
    pools,
  );
  return { pools, l2Advertisements, bgpAdvertisements, peers, bfdProfiles, problems: problems.list };
}
