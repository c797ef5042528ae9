import { createHmac, randomBytes } from 'node:crypto';
import { decodeDatagram, encodeDatagram } from './datagram.js';
import { maxDatagramBytes, messageBytes, type Message } from './messages.js';

const key = Buffer.alloc(32, 7);
const now = 1_700_000_000_000;

const heartbeat: Message = {
  kind: 'heartbeat',
  from: 'node-a.example',
  incarnation: 1_700_000_000_123,
  seq: 42,
  healthy: true,
  monitor: true,
  rumours: [
    { node: 'node-b', incarnation: 3, status: 'dead', healthy: false },
    { node: 'node-c', incarnation: 9, status: 'alive', healthy: true },
    { node: 'node-d', incarnation: 12, status: 'restarting', healthy: true, holdMs: 10_000 },
    { node: 'node-e', incarnation: 13, status: 'left', healthy: false },
  ],
};

describe('membership datagram', () => {
  it('round-trips every kind, and its size is what the state machine budgets', () => {
    const { monitor: _monitor, ...envelope } = heartbeat as Message & { monitor: boolean };
    const messages: Message[] = [
      heartbeat,
      { ...envelope, kind: 'ack', ack: 41, rumours: [] },
      { ...envelope, kind: 'sync' },
      { ...envelope, kind: 'sync-ack', joined: 1_700_000_000_999 },
      { ...envelope, kind: 'push', healthy: false },
    ];
    for (const m of messages) {
      const bytes = encodeDatagram(m, key, now);
      expect(bytes.length).toBe(messageBytes(m));
      const d = decodeDatagram(bytes, key, now + 5);
      expect(d).toEqual({ ok: true, message: m, sentAt: now });
    }
  });

  it('refuses forged, altered, foreign, truncated and old datagrams, by cause', () => {
    const bytes = encodeDatagram(heartbeat, key, now);
    const altered = Buffer.from(bytes);
    altered[40] = (altered[40] ?? 0) ^ 1;
    const cause = (b: Buffer, at = now): string => {
      const d = decodeDatagram(b, key, at);
      return d.ok ? 'ok' : d.cause;
    };
    expect(cause(encodeDatagram(heartbeat, Buffer.alloc(32, 8), now))).toBe('auth');
    expect(cause(altered)).toBe('auth');
    expect(cause(Buffer.concat([Buffer.from('XXXX'), bytes.subarray(4)]))).toBe('magic');
    expect(cause(bytes.subarray(0, 20))).toBe('size');
    expect(cause(Buffer.alloc(maxDatagramBytes + 1))).toBe('size');
    expect(cause(bytes, now + 31_000)).toBe('old');
  });

  it('refuses an authenticated datagram whose body does not parse, saying what is wrong', () => {
    // What a peer with the key but a bug could send: the body altered, then signed again.
    const resigned = (edit: (body: Buffer) => Buffer): string => {
      const bytes = encodeDatagram(heartbeat, key, now);
      const body = edit(Buffer.from(bytes.subarray(0, bytes.length - 16)));
      const mac = createHmac('sha256', key).update(body).digest().subarray(0, 16);
      const d = decodeDatagram(Buffer.concat([body, mac]), key, now);
      return d.ok ? 'ok' : `${d.cause}: ${d.detail}`;
    };
    const at = (b: Buffer, offset: number, value: number): Buffer => {
      b[offset] = value;
      return b;
    };
    const firstRumour = 36 + heartbeat.from.length + 1;
    expect(resigned((b) => b)).toBe('ok');
    expect(resigned((b) => at(b, 5, 9))).toBe('malformed: kind 9');
    expect(resigned((b) => at(b, 7, 0))).toBe('malformed: sender name length 0');
    expect(resigned((b) => Buffer.concat([b, Buffer.from([0])]))).toBe('malformed: 1 trailing bytes');
    expect(resigned((b) => b.subarray(0, b.length - 3))).toMatch(/^malformed: membership datagram truncated/);
    expect(resigned((b) => at(b, firstRumour + 1 + 'node-b'.length + 8, 0x08))).toBe(
      'malformed: rumour 0 about "node-b": flags 0x8',
    );
    expect(resigned((b) => at(b, 8, 0xff))).toBe('malformed: incarnation is beyond 2^53');
  });

  it('random garbage never decodes', () => {
    for (let i = 0; i < 2000; i++) {
      const d = decodeDatagram(randomBytes(1 + (i % 1500)), key, now);
      expect(d.ok).toBe(false);
    }
  });

  it('refuses to build a datagram above one frame rather than fragment', () => {
    const big: Message = {
      ...heartbeat,
      rumours: Array.from({ length: 200 }, (_, i) => ({
        node: `node-${i}-${'x'.repeat(20)}`,
        incarnation: i,
        status: 'alive',
        healthy: true,
      })),
    };
    expect(() => encodeDatagram(big, key, now)).toThrow(/exceed 1400/);
  });
});
