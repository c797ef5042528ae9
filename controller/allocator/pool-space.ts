// One pool's addresses of one family, as a "slot space": the usable addresses numbered
// consecutively, so that the occupied ones form runs an IntervalSet can jump over.
//
// Without avoidBuggyIPs a slot is the address itself. With it (IPv4 only) the .0 and .255
// addresses get no slot at all: slot = (address >> 8) * 254 + (last octet - 1). Addresses
// x.y.z.254 and x.y.(z+1).1 get consecutive slots, so a full /12 with avoidBuggyIPs is still
// one run, and "lowest free" never walks across thousands of skipped .255/.0 pairs.

import type { IPFamily, IPRange } from '../../lib/ip/index.js';
import { isBuggyIPv4 } from '../../lib/ip/index.js';
import { IntervalSet } from './interval-set.js';

export interface SlotRange {
  /** Position in spec.addresses, to keep the listed order. */
  readonly index: number;
  readonly first: bigint;
  readonly last: bigint;
  /** Inclusive slot bounds; loSlot > hiSlot when every address is skipped. */
  readonly loSlot: bigint;
  readonly hiSlot: bigint;
}

export class PoolSpace {
  readonly ranges: SlotRange[] = [];
  /** Occupied slots, whichever pool the address was allocated through. */
  readonly occupied = new IntervalSet();
  /** Distinct addresses allocated through this pool. */
  assigned = 0;
  capacity = 0n;

  constructor(
    readonly family: IPFamily,
    /** Only ever true for IPv4. */
    readonly avoidBuggy: boolean,
  ) {}

  addRange(index: number, range: IPRange): void {
    let loSlot: bigint;
    let hiSlot: bigint;
    if (this.avoidBuggy) {
      const lo = firstUsableAtOrAfter(range.first);
      const hi = lastUsableAtOrBefore(range.last);
      loSlot = lo === undefined ? 1n : slotOf(lo);
      hiSlot = hi === undefined ? 0n : slotOf(hi);
    } else {
      loSlot = range.first;
      hiSlot = range.last;
    }
    this.ranges.push({ index, first: range.first, last: range.last, loSlot, hiSlot });
    if (hiSlot >= loSlot) this.capacity += hiSlot - loSlot + 1n;
  }

  /** Whether this pool may hand out the address. */
  contains(value: bigint): boolean {
    if (this.avoidBuggy && isBuggyIPv4(value)) return false;
    for (const r of this.ranges) if (value >= r.first && value <= r.last) return true;
    return false;
  }

  /** Whether the address lies in a range even though avoidBuggyIPs skips it. */
  coversSkipped(value: bigint): boolean {
    if (!this.avoidBuggy || !isBuggyIPv4(value)) return false;
    return this.ranges.some((r) => value >= r.first && value <= r.last);
  }

  /** The listed-order position of an address the pool contains: range index, then value. */
  rangeIndexOf(value: bigint): number {
    for (const r of this.ranges) if (value >= r.first && value <= r.last) return r.index;
    return Number.MAX_SAFE_INTEGER;
  }

  slot(value: bigint): bigint {
    return this.avoidBuggy ? slotOf(value) : value;
  }

  address(slot: bigint): bigint {
    return this.avoidBuggy ? ((slot / 254n) << 8n) | ((slot % 254n) + 1n) : slot;
  }

  /** The lowest free address, ranges in listed order; undefined when the pool is full. */
  lowestFree(): bigint | undefined {
    for (const r of this.ranges) {
      const slot = this.occupied.firstAbsentAtOrAfter(r.loSlot);
      if (slot <= r.hiSlot) return this.address(slot);
    }
    return undefined;
  }

  get available(): bigint {
    return this.capacity - BigInt(this.occupied.size);
  }
}

function slotOf(value: bigint): bigint {
  return (value >> 8n) * 254n + (value & 0xffn) - 1n;
}

function firstUsableAtOrAfter(value: bigint): bigint | undefined {
  const last = value & 0xffn;
  const usable = last === 0n ? value + 1n : last === 0xffn ? value + 2n : value;
  return usable > 0xffff_ffffn ? undefined : usable;
}

function lastUsableAtOrBefore(value: bigint): bigint | undefined {
  const last = value & 0xffn;
  const usable = last === 0xffn ? value - 1n : last === 0n ? value - 2n : value;
  return usable < 0n ? undefined : usable;
}
