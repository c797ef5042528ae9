// The one validated configuration both binaries consume (as MetalLB's internal/config does).
// Every watched metallb.io object (plus the Secrets peers reference) becomes part of one
// immutable Config. Each problem is recorded against the object it belongs to; an object with
// an error is left out of the Config, and everything else stays in force.

import type { AllocatorPool } from './pool.js';
import type { LabelSelector } from '../kube/label-selector.js';

export const configKinds = [
  'IPAddressPool',
  'L2Advertisement',
  'BGPAdvertisement',
  'BGPPeer',
  'Community',
  'BFDProfile',
] as const;
export type ConfigKind = (typeof configKinds)[number];

export interface ObjectRef {
  readonly kind: ConfigKind | 'Secret';
  readonly namespace: string;
  readonly name: string;
}

export function refString(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

export interface ConfigProblem {
  readonly ref: ObjectRef;
  /** Path of the offending field, e.g. `spec.addresses[1]`; '' for the object as a whole. */
  readonly field: string;
  /** The offending value, when there is one. */
  readonly value?: string;
  /** One sentence; with `ref`, `field` and `value` it says what is wrong and what would be valid. */
  readonly message: string;
  /** Other objects involved (the pool it overlaps, the missing profile it names, ...). */
  readonly related?: readonly ObjectRef[];
  /** error: the object is left out of the Config. warning: it works, perhaps not as meant. */
  readonly severity: 'error' | 'warning';
}

/** The text users see: `IPAddressPool metallb-system/p: spec.addresses[1] "x": reason`. */
export function problemText(p: ConfigProblem): string {
  const where = p.field ? `: ${p.field}${p.value !== undefined ? ` ${JSON.stringify(p.value)}` : ''}` : '';
  return `${refString(p.ref)}${where}: ${p.message}`;
}

export interface Pool extends AllocatorPool {
  readonly ref: ObjectRef;
  /** spec.addresses as written. */
  readonly addresses: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface PreferredNodeSelector {
  readonly weight: number;
  readonly preference: LabelSelector;
}

export interface L2Advertisement {
  readonly ref: ObjectRef;
  /**
   * Names of the pools it applies to, resolved by the builder (ipAddressPools ∪ selected by
   * ipAddressPoolSelectors; neither given ⇒ every pool). Empty means none: every pool it named
   * is missing or invalid.
   */
  readonly pools: readonly string[];
  /** Empty ⇒ every node. */
  readonly nodeSelectors: readonly LabelSelector[];
  /** Empty ⇒ every eligible interface. */
  readonly interfaces: readonly string[];
  readonly serviceSelectors: readonly LabelSelector[];
  readonly preferredNodeSelectors: readonly PreferredNodeSelector[];
}

export type BgpCommunity =
  | { readonly kind: 'standard'; readonly value: number }
  | { readonly kind: 'large'; readonly global: number; readonly local1: number; readonly local2: number };

export interface BGPAdvertisement {
  readonly ref: ObjectRef;
  readonly pools: readonly string[];
  readonly aggregationLength: number;
  readonly aggregationLengthV6: number;
  readonly localPref?: number;
  /** Resolved: aliases from Community objects are replaced by their values. */
  readonly communities: readonly BgpCommunity[];
  /** BGPPeer names; empty ⇒ every peer. */
  readonly peers: readonly string[];
  readonly nodeSelectors: readonly LabelSelector[];
  readonly serviceSelectors: readonly LabelSelector[];
}

export interface BFDProfile {
  readonly ref: ObjectRef;
  readonly receiveInterval: number;
  readonly transmitInterval: number;
  readonly detectMultiplier: number;
  readonly echoInterval: number;
  readonly echoMode: boolean;
  readonly passiveMode: boolean;
  readonly minimumTtl: number;
}

export interface BGPPeer {
  readonly ref: ObjectRef;
  readonly myASN: number;
  /** Set unless dynamicASN is. */
  readonly peerASN?: number;
  readonly dynamicASN?: 'internal' | 'external';
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly sourceAddress?: string;
  /** Seconds; undefined ⇒ the speaker's default. */
  readonly holdTime?: number;
  readonly keepaliveTime?: number;
  readonly connectTime?: number;
  readonly routerID?: string;
  readonly nodeSelectors: readonly LabelSelector[];
  /** TCP MD5 key, from spec.password or the referenced Secret. */
  readonly password?: string;
  readonly bfdProfile?: BFDProfile;
  readonly enableGracefulRestart: boolean;
  readonly ebgpMultiHop: boolean;
}

export interface Config {
  readonly pools: ReadonlyMap<string, Pool>;
  readonly l2Advertisements: readonly L2Advertisement[];
  readonly bgpAdvertisements: readonly BGPAdvertisement[];
  readonly peers: ReadonlyMap<string, BGPPeer>;
  readonly bfdProfiles: ReadonlyMap<string, BFDProfile>;
  readonly problems: readonly ConfigProblem[];
}
