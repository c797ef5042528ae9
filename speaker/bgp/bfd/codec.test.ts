import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../test/support/prng.js';
import { BfdDiag, BfdState, decodeControl, encodeControl, type BfdControlPacket } from './codec.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const base: BfdControlPacket = {
  diag: 0,
  state: BfdState.Down,
  poll: false,
  final: false,
  cpi: false,
  demand: false,
  detectMult: 3,
  myDiscriminator: 1,
  yourDiscriminator: 0,
  desiredMinTxUs: 1_000_000,
  requiredMinRxUs: 100_000,
  requiredMinEchoRxUs: 0,
};

describe('BFD control packet codec (RFC 5880 §4.1)', () => {
  test('encodes a Down packet byte for byte', () => {
    expect(encodeControl(base).toString('hex')).toBe(
      // vers 1 diag 0 | Down, no flags | mult 3 | len 24 | my 1 | your 0 | 1 s | 100 ms | 0
      '20' + '40' + '03' + '18' + '00000001' + '00000000' + '000f4240' + '000186a0' + '00000000',
    );
  });

  test('encodes state, diag and each flag in its own bit', () => {
    const up = encodeControl({
      ...base,
      state: BfdState.Up,
      diag: BfdDiag.NeighborSignaledSessionDown,
      yourDiscriminator: 7,
    });
    expect(up[0]).toBe(0x23);
    expect(up[1]).toBe(0xc0);
    expect(encodeControl({ ...base, poll: true })[1]).toBe(0x60);
    expect(encodeControl({ ...base, final: true })[1]).toBe(0x50);
    expect(encodeControl({ ...base, cpi: true })[1]).toBe(0x48);
    expect(encodeControl({ ...base, demand: true })[1]).toBe(0x42);
    expect(
      encodeControl({ ...base, state: BfdState.AdminDown, diag: BfdDiag.AdministrativelyDown })
        .subarray(0, 2)
        .toString('hex'),
    ).toBe('2700');
  });

  test('decodes an Init reply with FRR bfdd default timers (300 ms, echo 50 ms, mult 3)', () => {
    // A peer answering our Down: state Init, Your Discriminator = ours, its own 0x5ad0b2a1.
    const r = decodeControl(hex('20 80 03 18 5ad0b2a1 00000001 000493e0 000493e0 0000c350'));
    expect(r).toEqual({
      ok: true,
      packet: {
        diag: 0,
        state: BfdState.Init,
        poll: false,
        final: false,
        cpi: false,
        demand: false,
        detectMult: 3,
        myDiscriminator: 0x5ad0b2a1,
        yourDiscriminator: 1,
        desiredMinTxUs: 300_000,
        requiredMinRxUs: 300_000,
        requiredMinEchoRxUs: 50_000,
      },
    });
  });

  test('round-trips every state, diag and flag combination it can send', () => {
    for (const state of [BfdState.AdminDown, BfdState.Down, BfdState.Init, BfdState.Up])
      for (let diag = 0; diag <= 8; diag++)
        for (const [poll, final] of [
          [false, false],
          [true, false],
          [false, true],
        ] as const) {
          const p = {
            ...base,
            state,
            diag,
            poll,
            final,
            yourDiscriminator: 0xfffffffe,
            myDiscriminator: 0xffffffff,
          };
          const r = decodeControl(encodeControl(p));
          expect(r).toEqual({ ok: true, packet: p });
        }
  });

  test('ignores bytes after Length (UDP payload longer than the packet)', () => {
    const r = decodeControl(Buffer.concat([encodeControl(base), Buffer.from([1, 2, 3])]));
    expect(r.ok).toBe(true);
  });

  test('refuses to encode what the wire cannot carry', () => {
    expect(() => encodeControl({ ...base, poll: true, final: true })).toThrow(/Poll and Final/);
    expect(() => encodeControl({ ...base, detectMult: 0 })).toThrow(RangeError);
    expect(() => encodeControl({ ...base, diag: 32 })).toThrow(RangeError);
  });

  test('decodes from a Buffer slice at a nonzero offset', () => {
    const big = Buffer.concat([Buffer.alloc(5, 0xff), encodeControl({ ...base, myDiscriminator: 42 })]);
    const r = decodeControl(big.subarray(5));
    expect(r.ok && r.packet.myDiscriminator).toBe(42);
  });
});

describe('malformed packet corpus (RFC 5880 §6.8.6)', () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'malformed');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort();

  test('holds the hand-written cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  test.each(files)('%s is discarded with the reason it names', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const expected = /^# expect: (\S+)$/m.exec(text)?.[1];
    expect(expected).toBeDefined();
    const body = text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('');
    expect(decodeControl(hex(body))).toEqual({ ok: false, reason: expected });
  });

  test('every truncation of a valid packet is discarded, never thrown', () => {
    const full = encodeControl({ ...base, state: BfdState.Up, yourDiscriminator: 9 });
    for (let n = 0; n < full.length; n++) expect(decodeControl(full.subarray(0, n)).ok).toBe(false);
  });

  test('random bytes never throw', () => {
    const random = mulberry32(5880);
    const next = (): number => Math.floor(random() * 256);
    for (let i = 0; i < 5000; i++) {
      const len = next() % 60;
      const bytes = Buffer.from(Array.from({ length: len }, next));
      if (len > 0) bytes[0] = 0x20 | (bytes[0]! & 0x1f); // mostly version 1, to get past the first check
      expect(() => decodeControl(bytes)).not.toThrow();
    }
  });
});
