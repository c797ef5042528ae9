// BGP UPDATE packing: announcing 10,000 /32s with one attribute set. Beacon packs NLRIs into
// as few UPDATEs as the message size allows; the baseline sends one UPDATE per prefix (what
// MetalLB's native speaker does). Figures: messages, bytes on the wire, encode rate, decode rate.

import { Origin } from '../../speaker/bgp/wire/constants.js';
import { decodeMessage } from '../../speaker/bgp/wire/decode.js';
import { encodeUpdate } from '../../speaker/bgp/wire/encode.js';
import { packAnnouncements } from '../../speaker/bgp/wire/pack.js';
import type { CodecContext, PathAttributes } from '../../speaker/bgp/wire/messages.js';
import type { BenchResult } from './allocator-bench.js';

export async function benchBgpPacking(): Promise<BenchResult[]> {
  const { attributes, prefixes, ctx } = fixture(10_000);
  const t0 = performance.now();
  const packed = packAnnouncements(prefixes, attributes, ctx);
  const packMs = performance.now() - t0;
  const t1 = performance.now();
  const single = prefixes.map((p) =>
    encodeUpdate({ type: 'update', withdrawn: [], attributes, nlri: [p] }, ctx),
  );
  const singleMs = performance.now() - t1;
  const bytes = (msgs: Buffer[]) => msgs.reduce((n, m) => n + m.length, 0);
  const t2 = performance.now();
  let decoded = 0;
  for (const m of packed) {
    const r = decodeMessage(m, ctx);
    if (r.action === 'ok' && r.message.type === 'update') decoded += r.message.nlri.length;
  }
  const decodeMs = performance.now() - t2;
  if (decoded !== prefixes.length) throw new Error(`decoded ${decoded} prefixes, want ${prefixes.length}`);
  return [
    { name: 'UPDATE messages: beacon (packed, 4096-byte limit)', value: packed.length, unit: 'msgs' },
    { name: 'UPDATE messages: one per prefix', value: single.length, unit: 'msgs' },
    { name: 'bytes on the wire: beacon', value: bytes(packed), unit: 'bytes' },
    { name: 'bytes on the wire: one per prefix', value: bytes(single), unit: 'bytes' },
    { name: 'bytes: one per prefix / beacon', value: bytes(single) / bytes(packed), unit: 'x' },
    { name: 'encode time: beacon', value: packMs, unit: 'ms' },
    { name: 'encode time: one per prefix', value: singleMs, unit: 'ms' },
    {
      name: 'decode rate of the packed table',
      value: Math.round(decoded / (decodeMs / 1000)),
      unit: 'prefixes/s',
    },
  ];
}

function fixture(n: number) {
  const prefixes = Array.from({ length: n }, (_, i) => ({
    family: 4 as const,
    addr: Buffer.from([10, 100 + (i >> 16), (i >> 8) & 0xff, i & 0xff]),
    len: 32,
  }));
  // What a speaker announces for a Service IP over eBGP: ORIGIN IGP, AS_PATH [myASN], next hop self.
  const attributes: PathAttributes = {
    origin: Origin.IGP,
    asPath: [{ type: 'sequence', asns: [64512] }],
    nextHop: '10.77.0.11',
    communities: [64512 * 65536 + 100],
  };
  const ctx: CodecContext = { fourOctetAs: true, maxMessageSize: 4096 };
  return { prefixes, attributes, ctx };
}
