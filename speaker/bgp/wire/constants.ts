// Numbers from the BGP-4 wire format: message types, header sizes, path attribute and
// capability codes. Names follow the IANA registries so they can be grepped against the RFCs.

/** RFC 4271 §4.1: 16-octet marker, 2-octet length, 1-octet type. */
export const HEADER_LENGTH = 19;
/** RFC 4271 §4: the largest message without Extended Messages. */
export const MAX_MESSAGE_SIZE = 4096;
/** RFC 8654 §4: the largest message once Extended Messages is negotiated (OPEN/KEEPALIVE stay at 4096). */
export const EXTENDED_MAX_MESSAGE_SIZE = 65535;
/** RFC 6793 §9: the 2-octet stand-in for an AS number above 65535. */
export const AS_TRANS = 23456;

export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  /** RFC 2918 */
  ROUTE_REFRESH: 5,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

/** RFC 4271 §4.2 (29) and §4.3 (23), §4.4 (19), §4.5 (21); RFC 2918 §3 (23). */
export const MIN_LENGTH: Readonly<Record<MessageTypeCode, number>> = {
  [MessageType.OPEN]: 29,
  [MessageType.UPDATE]: 23,
  [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19,
  [MessageType.ROUTE_REFRESH]: 23,
};

/** RFC 4271 §4.3 Attribute Flags (high-order bits of the first octet). */
export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  /** RFC 1997 */
  COMMUNITIES: 8,
  /** RFC 4456 */
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  /** RFC 4760 */
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  /** RFC 4360 */
  EXTENDED_COMMUNITIES: 16,
  /** RFC 6793 */
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  /** RFC 5701 */
  IPV6_EXTENDED_COMMUNITIES: 25,
  /** RFC 8092 */
  LARGE_COMMUNITY: 32,
} as const;

export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;
export type OriginCode = (typeof Origin)[keyof typeof Origin];

/** RFC 4271 §4.3 AS_PATH segment types; 3 and 4 are the confederation segments of RFC 5065 §3. */
export const AsPathSegmentType = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
} as const;

/** IANA Capability Codes (RFC 5492 §4). */
export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  EXTENDED_MESSAGE: 6,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ENHANCED_ROUTE_REFRESH: 70,
} as const;

/** RFC 4271 §4.2 Optional Parameter types: 2 is Capabilities (RFC 5492 §4); 1 (authentication) is deprecated. */
export const OptionalParameterType = { CAPABILITIES: 2 } as const;

export const Afi = { IPV4: 1, IPV6: 2 } as const;
export const Safi = { UNICAST: 1, MULTICAST: 2 } as const;

/** RFC 1997 and the IANA well-known communities. */
export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000,
  BLACKHOLE: 0xffff029a,
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NO_PEER: 0xffffff04,
} as const;

/** RFC 7313 §3: ROUTE-REFRESH Message Subtype (formerly Reserved). */
export const RouteRefreshSubtype = { NORMAL: 0, BEGIN_OF_RR: 1, END_OF_RR: 2 } as const;
