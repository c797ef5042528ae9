// IP math shared by the config builder, the allocator and the speaker.

export type { IPAddress, IPFamily } from './address.js';
export {
  compareIP,
  familyBits,
  familyName,
  formatIP,
  formatIPValue,
  formatIPv6Bytes,
  ipEquals,
  isBuggyIPv4,
  maxAddressValue,
  parseIP,
  tryParseIP,
} from './address.js';
export type { CIDR } from './cidr.js';
export { cidrContains, cidrLast, cidrSize, formatCIDR, parseCIDR, prefixMask } from './cidr.js';
export type { AddressSpec, IPRange } from './range.js';
export {
  cidrToRange,
  formatRange,
  parseAddressSpec,
  parseRange,
  rangeContains,
  rangeContainsRange,
  rangeSize,
  rangesOverlap,
  rangeToCIDRs,
} from './range.js';
export { IPParseError } from './parse-error.js';
