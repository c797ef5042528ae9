// Seeded random generation of valid BGP messages, shared by the codec's property tests and the
// fuzz runner. Every generated message is in the codec's canonical form, so
// decode(encode(m)) deep-equals m.

import { formatIPv4, formatIPv6 } from '../../speaker/bgp/wire/address.js';
import type {
  AsPathSegment,
  BgpMessage,
  Capability,
  CodecContext,
  OpenMessage,
  PathAttributes,
  RawAttribute,
  UpdateMessage,
} from '../../speaker/bgp/wire/messages.js';
import type { AddressFamily, Prefix } from '../../speaker/bgp/wire/prefix.js';
import { mulberry32 } from '../support/prng.js';

/** Seeded (mulberry32): the same sequence for the same seed everywhere. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  u32(): number {
    return this.int(0, 0xffffffff);
  }
}

export function randomPrefix(rng: Rng, family: AddressFamily): Prefix {
  const len = rng.bool(0.3) ? (family === 4 ? 32 : 128) : rng.int(0, family === 4 ? 32 : 128);
  const addr = rng.bytes(family === 4 ? 4 : 16);
  for (let bit = len; bit < addr.length * 8; bit++) addr[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family, addr, len };
}

const unicastV4 = (rng: Rng): string =>
  formatIPv4(
    Buffer.from([rng.pick([1, 10, 100, 192, 223]), rng.int(0, 255), rng.int(0, 255), rng.int(1, 254)]),
  );
const v6 = (rng: Rng): string => formatIPv6(rng.bytes(16));

function asn(rng: Rng, fourOctet: boolean): number {
  return fourOctet && rng.bool() ? rng.int(65536, 0xffffffff) : rng.int(1, 65535);
}

export function randomCapability(rng: Rng): Capability {
  switch (rng.int(0, 6)) {
    case 0:
      return { kind: 'multiprotocol', afi: rng.pick([1, 2, 25]), safi: rng.pick([1, 2, 128]) };
    case 1:
      return { kind: 'route-refresh' };
    case 2:
      return { kind: 'enhanced-route-refresh' };
    case 3:
      return { kind: 'extended-message' };
    case 4:
      return { kind: 'four-octet-as', asn: rng.u32() };
    case 5:
      return {
        kind: 'graceful-restart',
        restarting: rng.bool(),
        notification: rng.bool(),
        restartTime: rng.int(0, 4095),
        families: Array.from({ length: rng.int(0, 3) }, () => ({
          afi: rng.pick([1, 2]),
          safi: 1,
          forwardingState: rng.bool(),
        })),
      };
    default:
      return {
        kind: 'unknown',
        code: rng.pick([3, 5, 9, 67, 69, 71, 73, 128, 131, 200]),
        data: rng.bytes(rng.int(0, 20)),
      };
  }
}

export function randomOpen(rng: Rng): OpenMessage {
  // Sometimes enough capabilities to need the RFC 9072 extended parameter length.
  const count = rng.bool(0.1) ? rng.int(40, 80) : rng.int(0, 8);
  const open: OpenMessage = {
    type: 'open',
    version: 4,
    myAs: rng.int(1, 65535),
    holdTime: rng.bool(0.2) ? 0 : rng.int(3, 65535),
    bgpId: formatIPv4(rng.bytes(4)),
    capabilities: Array.from({ length: count }, () => randomCapability(rng)),
  };
  if (rng.bool(0.05))
    open.otherParameters = [{ type: rng.pick([1, 3, 4, 128]), data: rng.bytes(rng.int(0, 10)) }];
  return open;
}

function randomAsPath(rng: Rng, fourOctet: boolean): AsPathSegment[] {
  return Array.from({ length: rng.int(0, 3) }, () => ({
    type: rng.pick(['sequence', 'sequence', 'set', 'confed-sequence', 'confed-set'] as const),
    asns: Array.from({ length: rng.int(1, 12) }, () => asn(rng, fourOctet)),
  }));
}

function randomOther(rng: Rng): RawAttribute[] {
  const codes = [...new Set(Array.from({ length: rng.int(0, 3) }, () => rng.int(100, 254)))].sort(
    (a, b) => a - b,
  );
  return codes.map((typeCode) => {
    const value = rng.bytes(rng.bool(0.2) ? rng.int(256, 400) : rng.int(0, 30));
    const ext = value.length > 255 || rng.bool(0.2) ? 0x10 : 0;
    return { flags: 0x80 | (rng.bool() ? 0x40 : 0) | (rng.bool(0.2) ? 0x20 : 0) | ext, typeCode, value };
  });
}

export function randomUpdate(rng: Rng, ctx: CodecContext): UpdateMessage {
  const budget = ctx.maxMessageSize > 4096 ? 400 : 60;
  const withdrawn = Array.from({ length: rng.bool(0.3) ? rng.int(1, budget) : 0 }, () =>
    randomPrefix(rng, 4),
  );
  const nlri = Array.from({ length: rng.bool(0.5) ? rng.int(1, budget) : 0 }, () => randomPrefix(rng, 4));
  const a: PathAttributes = {};
  const mpReach = rng.bool(0.3);
  const reaches = nlri.length > 0 || mpReach;
  if (reaches || rng.bool(0.3)) a.origin = rng.pick([0, 1, 2] as const);
  if (reaches || rng.bool(0.3)) a.asPath = randomAsPath(rng, ctx.fourOctetAs);
  if (nlri.length > 0 || rng.bool(0.2)) a.nextHop = unicastV4(rng);
  if (rng.bool(0.3)) a.med = rng.u32();
  if (!ctx.external && rng.bool(0.3)) a.localPref = rng.u32();
  if (rng.bool(0.1)) a.atomicAggregate = true;
  if (rng.bool(0.1)) a.aggregator = { asn: asn(rng, ctx.fourOctetAs), address: formatIPv4(rng.bytes(4)) };
  if (rng.bool(0.4)) a.communities = Array.from({ length: rng.int(1, 10) }, () => rng.u32());
  if (rng.bool(0.3))
    a.largeCommunities = Array.from({ length: rng.int(1, 5) }, () => ({
      global: rng.u32(),
      local1: rng.u32(),
      local2: rng.u32(),
    }));
  if (mpReach) {
    const family = rng.bool(0.8) ? 6 : 4;
    const nh =
      family === 4 && rng.bool(0.5)
        ? { nextHop: unicastV4(rng) }
        : { nextHop: v6(rng), ...(rng.bool() ? { linkLocalNextHop: v6(rng) } : {}) };
    a.mpReach = {
      family,
      ...nh,
      nlri: Array.from({ length: rng.int(1, budget) }, () => randomPrefix(rng, family)),
    };
  }
  if (rng.bool(0.2)) {
    const family = rng.bool(0.8) ? 6 : 4;
    a.mpUnreach = {
      family,
      withdrawn: Array.from({ length: rng.int(0, budget) }, () => randomPrefix(rng, family)),
    };
  }
  const other = randomOther(rng);
  if (other.length > 0) a.other = other;
  return { type: 'update', withdrawn, attributes: a, nlri };
}

export function randomMessage(rng: Rng, ctx: CodecContext): BgpMessage {
  switch (rng.int(0, 9)) {
    case 0:
    case 1:
      return randomOpen(rng);
    case 2:
      return { type: 'keepalive' };
    case 3:
      return {
        type: 'notification',
        code: rng.int(1, 7),
        subcode: rng.int(0, 11),
        data: rng.bytes(rng.int(0, 40)),
      };
    case 4:
      return {
        type: 'route-refresh',
        afi: rng.pick([1, 2]),
        safi: rng.pick([1, 128]),
        subtype: rng.int(0, 2),
      };
    default:
      return randomUpdate(rng, ctx);
  }
}

export function randomContext(rng: Rng): CodecContext {
  return { fourOctetAs: rng.bool(0.7), maxMessageSize: rng.bool(0.8) ? 4096 : 65535, external: rng.bool() };
}

/** Hex with any whitespace, "#" comments to the end of a line, and "ff*16"-style repeats. */
export function fromHex(text: string): Buffer {
  const clean = text
    .replace(/#[^\n]*/g, '')
    .replace(/([0-9a-fA-F]{2})\*(\d+)/g, (_m, byte: string, n: string) => byte.repeat(Number(n)))
    .replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${clean.slice(0, 40)}...`);
  return Buffer.from(clean, 'hex');
}
