// The cluster scenarios' reading of a failed request (test/cluster/request-failures.ts), on
// frames as the client's tcpdump printed them in a speaker rolling update on the real cluster.
import { classifyFailures, parseCapture } from '../cluster/request-failures.js';

const ip = '192.168.10.222';
const a = '02:77:00:00:00:0b';
const b = '02:77:00:00:00:0d';
const client = '02:77:00:00:00:64';
const garp = (t: string, mac: string): string[] => [
  `${t} ${mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has ${ip} tell ${ip}, length 28`,
  `${t} ${mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Reply ${ip} is-at ${mac}, length 28`,
];
const reset = (t: string, mac: string, from = ip): string =>
  `${t} ${mac} > ${client}, ethertype IPv4 (0x0800), length 54: ${from}.80 > 192.168.10.100.59492: Flags [R], seq 2953342244, win 0, length 0`;

// The IP on A, moved to B when A's speaker stopped, and back to A when A's new speaker was in.
const rollout = [
  ...garp('1000.100', a),
  ...garp('1003.990', b),
  `1004.070 ${b} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 192.168.10.100 tell 192.168.10.13, length 28`,
  ...garp('1004.459', b),
  ...garp('1005.677', a),
];

describe('a failed request of the client loop', () => {
  test('the IP moves are the changes of the MAC its gratuitous ARPs name', () => {
    expect(parseCapture(rollout, ip).moves).toEqual([
      { at: 1003.99, from: a, to: b },
      { at: 1005.677, from: b, to: a },
    ]);
    expect(parseCapture(rollout, '192.168.10.100').moves).toEqual([]);
  });

  test('reset by the node the IP just moved to, while the request was in flight: an IP move', () => {
    const frames = [...rollout, reset('1005.678', a)];
    expect(classifyFailures(['fail 1005.650 curl=56 http=000'], parseCapture(frames, ip))).toEqual({
      resetByMove: ['fail 1005.650 curl=56 http=000'],
      other: [],
    });
  });

  test('a reset with no move around it is a defect', () => {
    const frames = [...garp('1000.100', a), ...garp('1000.600', a), reset('1002.010', a)];
    expect(classifyFailures(['fail 1002.000 curl=7 http=000'], parseCapture(frames, ip))).toEqual({
      resetByMove: [],
      other: ['fail 1002.000 curl=7 http=000'],
    });
  });

  test('a reset from the node the IP moved away from is a defect', () => {
    const frames = [...rollout, reset('1004.100', a)];
    expect(classifyFailures(['fail 1004.050 curl=56 http=000'], parseCapture(frames, ip)).other).toHaveLength(
      1,
    );
  });

  test('a move long before the request does not explain it', () => {
    const frames = [...rollout, reset('1009.000', a)];
    expect(classifyFailures(['fail 1008.990 curl=56 http=000'], parseCapture(frames, ip)).other).toHaveLength(
      1,
    );
  });

  test('a move just before the request started does not explain it: its SYN went to the new owner', () => {
    const frames = [...rollout, reset('1005.700', a)];
    expect(classifyFailures(['fail 1005.690 curl=56 http=000'], parseCapture(frames, ip)).other).toHaveLength(
      1,
    );
  });

  test('a timeout with no reset is a defect (nobody answered, or the answer got lost)', () => {
    expect(
      classifyFailures(['fail 1005.650 curl=28 http=000'], parseCapture(rollout, ip)).other,
    ).toHaveLength(1);
  });

  test('a reset from another address is not the Service answering', () => {
    const frames = [...rollout, reset('1005.678', a, '192.168.10.11')];
    expect(classifyFailures(['fail 1005.650 curl=56 http=000'], parseCapture(frames, ip)).other).toHaveLength(
      1,
    );
  });
});
