// A per-peer Adj-RIB-Out (RFC 4271 §3.2): what we want the peer to have, what we have sent it,
// and the UPDATEs that turn one into the other. Beacon originates every route itself, so the
// attributes are fixed by the session: ORIGIN IGP, an empty AS_PATH to an internal peer and
// [our AS] to an external one (§5.1.2), NEXT_HOP self (§5.1.3), LOCAL_PREF only internally
// (§5.1.5, 100 unless an advertisement gives one). Pure: the session edge packs and sends what diff() returns.

import { Origin } from '../wire/constants.js';
import type { LargeCommunity, PathAttributes } from '../wire/messages.js';
import type { AddressFamily, Prefix } from '../wire/prefix.js';
import { formatPrefix, parsePrefix } from '../wire/prefix.js';

/** One Service IP (or range) we want the peer to route to us. */
export interface Announcement {
  /** "10.77.100.10/32", "fd00:77::100:10/128", or a Prefix. */
  prefix: string | Prefix;
  communities?: number[];
  largeCommunities?: LargeCommunity[];
  /** Sent to internal peers only (RFC 4271 §5.1.5). */
  localPref?: number;
}

/** What the established session fixes about our routes. */
export interface RibSession {
  localAsn: number;
  /** The peer is in another AS (eBGP). */
  external: boolean;
  /** Families both sides negotiated. */
  families: AddressFamily[];
  /** Our IPv4 address on the session (or the one configured for IPv4 routes over IPv6). */
  nextHop4?: string;
  /** Our global IPv6 address (RFC 2545 §3). */
  nextHop6?: string;
  /** Our link-local IPv6 address on the shared link, sent after the global one when known. */
  linkLocal6?: string;
}

/** LOCAL_PREF sent to internal peers when no advertisement gives one. */
export const DEFAULT_LOCAL_PREF = 100;

export interface RibChanges {
  withdraw: Prefix[];
  /** Prefixes grouped by identical attributes, so each group packs into as few UPDATEs as possible. */
  announce: { attributes: PathAttributes; prefixes: Prefix[] }[];
}

interface Desired {
  prefix: Prefix;
  route: Announcement;
}

export function pathAttributes(route: Announcement, s: RibSession, family: AddressFamily): PathAttributes {
  const a: PathAttributes = {
    origin: Origin.IGP,
    asPath: s.external ? [{ type: 'sequence', asns: [s.localAsn] }] : [],
  };
  if (family === 4) a.nextHop = s.nextHop4!;
  else
    a.mpReach = {
      family: 6,
      nextHop: s.nextHop6!,
      ...(s.linkLocal6 ? { linkLocalNextHop: s.linkLocal6 } : {}),
      nlri: [],
    };
  // RFC 4271 §5.1.5: LOCAL_PREF SHALL be included in UPDATEs to internal peers; 100 is the
  // value routers assume when it is absent (BIRD's and FRR's default local preference).
  if (!s.external) a.localPref = route.localPref ?? DEFAULT_LOCAL_PREF;
  if (route.communities?.length) a.communities = [...route.communities].sort((x, y) => x - y);
  if (route.largeCommunities?.length) a.largeCommunities = route.largeCommunities;
  return a;
}

/** What distinguishes one route's attributes from another's within a session. */
function routeShape(route: Announcement, family: AddressFamily): string {
  const communities = route.communities?.length ? [...route.communities].sort((x, y) => x - y).join(',') : '';
  const large = route.largeCommunities?.length
    ? route.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`).join(',')
    : '';
  return `${family}|${route.localPref ?? ''}|${communities}|${large}`;
}

/** A stable text form of the attributes: equal keys pack together and need no re-announcement. */
function attributesKey(a: PathAttributes): string {
  return JSON.stringify(a);
}

export class AdjRibOut {
  private desired = new Map<string, Desired>();
  /** prefix text → attributes key, as the peer has it. */
  private sent = new Map<string, string>();
  /** Prefixes whose desired route changed since the last diff (see `update`). */
  private readonly dirty = new Set<string>();
  /** The next diff compares every prefix: after setDesired or reset. */
  private everything = true;

  /** Replaces the whole desired table. Throws (naming the prefix) on a malformed one. */
  setDesired(routes: readonly Announcement[]): void {
    const next = new Map<string, Desired>();
    for (const route of routes) {
      const prefix = typeof route.prefix === 'string' ? parsePrefix(route.prefix) : route.prefix;
      next.set(formatPrefix(prefix), { prefix, route });
    }
    this.desired = next;
    this.everything = true;
    this.dirty.clear();
  }

  /**
   * Changes some prefixes of the desired table: each to its new route, or out of the table
   * (undefined). The next diff then looks at these prefixes only, so a change of one Service
   * among 10,000 costs O(1) here. Throws (naming the prefix) on a malformed one; the prefixes
   * before it are applied.
   */
  update(changes: Iterable<readonly [prefix: string, route: Announcement | undefined]>): void {
    for (const [text, route] of changes) {
      const prefix = parsePrefix(text);
      const key = formatPrefix(prefix);
      if (route === undefined) this.desired.delete(key);
      else this.desired.set(key, { prefix, route });
      if (!this.everything) this.dirty.add(key);
    }
  }

  /** The session went down: the peer has dropped everything we sent (RFC 4271 §9.1). */
  reset(): void {
    this.sent.clear();
    this.everything = true;
    this.dirty.clear();
  }

  get sentCount(): number {
    return this.sent.size;
  }

  get desiredCount(): number {
    return this.desired.size;
  }

  /** What to send so the peer's view matches the desired table; marks it as sent. Prefixes of a
   * family the session does not carry (or has no next hop for) are neither announced nor kept. */
  diff(s: RibSession): RibChanges {
    const usable = (f: AddressFamily): boolean =>
      s.families.includes(f) && (f === 4 ? s.nextHop4 !== undefined : s.nextHop6 !== undefined);
    const all = this.everything;
    const keys: Iterable<string> = all ? [...this.sent.keys()] : this.dirty;
    const withdraw: Prefix[] = [];
    for (const key of keys) {
      if (!this.sent.has(key)) continue;
      const d = this.desired.get(key);
      if (!d || !usable(d.prefix.family)) {
        withdraw.push(parsePrefix(key));
        this.sent.delete(key);
      }
    }
    const groups = new Map<string, { attributes: PathAttributes; prefixes: Prefix[] }>();
    // Routes of one shape share one attributes object and key: a 10,000-route table of a few
    // shapes serialises a few attribute sets, not 10,000.
    const shapes = new Map<string, { attributes: PathAttributes; attrKey: string }>();
    const consider = (key: string, d: Desired): void => {
      if (!usable(d.prefix.family)) return;
      const shape = routeShape(d.route, d.prefix.family);
      let cached = shapes.get(shape);
      if (cached === undefined) {
        const built = pathAttributes(d.route, s, d.prefix.family);
        cached = { attributes: built, attrKey: attributesKey(built) };
        shapes.set(shape, cached);
      }
      const { attributes, attrKey } = cached;
      if (this.sent.get(key) === attrKey) return;
      this.sent.set(key, attrKey);
      const g = groups.get(attrKey);
      if (g) g.prefixes.push(d.prefix);
      else groups.set(attrKey, { attributes, prefixes: [d.prefix] });
    };
    if (all) for (const [key, d] of this.desired) consider(key, d);
    else
      for (const key of this.dirty) {
        const d = this.desired.get(key);
        if (d) consider(key, d);
      }
    this.everything = false;
    this.dirty.clear();
    return { withdraw, announce: [...groups.values()] };
  }
}
