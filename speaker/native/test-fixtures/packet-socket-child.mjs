// Test helper run inside a network namespace (`ip netns exec l2t-… node packet-socket-child.mjs
// <ifname> <ethertype> [thread]`), because Node cannot setns itself. It opens a PacketSocket with the
// built addon, reports on stdout (one JSON object a line) and takes orders on stdin:
//   stdout {"event":"ready","mac":"…"} | {"event":"frame","hex":"…","packetType":n} | {"event":"error",…}
//   stdin  "send <hex>" | "join <mac>" | "close"
//          "answer <ipv4,...>" (answer-thread sockets: setArpAnswers with our MAC)
//          "taken" -> {"event":"taken","answered":{"<ipv4 value>":n}}
//          "answer6 <hex of 16-byte addresses>" (setNdpAnswers with our MAC)
//          "taken6" -> {"event":"taken6","answered":{"<address hex>":n}}
// Frames are decoded and built by the test itself with the TypeScript codecs; after "close"
// the process must exit on its own, which shows that a closed socket holds no loop handle.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import process from 'node:process';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const native = require('../build/Release/beacon_native.node');
const [ifname, etherType, mode] = process.argv.slice(2);
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const socket = new native.PacketSocket(
  native.interfaceIndex(ifname),
  Number(etherType),
  (frame, packetType) => out({ event: 'frame', hex: frame.toString('hex'), packetType }),
  (err) => out({ event: 'error', code: err.code, message: err.message }),
  mode === 'thread',
);
out({
  event: 'ready',
  mac: Array.from(socket.hardwareAddress, (b) => b.toString(16).padStart(2, '0')).join(':'),
});

const input = createInterface({ input: process.stdin });
// If the test runner dies, stdin closes: close the socket so that this process exits too.
input.on('close', () => socket.close());
input.on('line', (line) => {
  const [command, arg] = line.trim().split(' ');
  try {
    if (command === 'send') out({ event: 'sent', bytes: socket.send(Buffer.from(arg, 'hex')) });
    else if (command === 'join')
      out({ event: 'joined', result: socket.addMembership(Buffer.from(arg.replace(/:/g, ''), 'hex')) });
    else if (command === 'answer') {
      const ips = arg
        ? arg.split(',').map((ip) => Buffer.from(ip.split('.').map(Number)).readUInt32BE(0))
        : [];
      socket.setArpAnswers(socket.hardwareAddress, Uint32Array.from(ips));
      out({ event: 'answering', ips });
    } else if (command === 'taken') {
      const flat = socket.takeArpAnswered();
      const answered = {};
      for (let i = 0; i < flat.length; i += 2) answered[flat[i]] = flat[i + 1];
      out({ event: 'taken', answered });
    } else if (command === 'answer6') {
      socket.setNdpAnswers(socket.hardwareAddress, Buffer.from(arg ?? '', 'hex'));
      out({ event: 'answering6', targets: arg ?? '' });
    } else if (command === 'taken6') {
      const flat = socket.takeNdpAnswered();
      const answered = {};
      for (let i = 0; i < flat.length; i += 2) answered[flat[i].toString('hex')] = flat[i + 1];
      out({ event: 'taken6', answered });
    } else if (command === 'close') {
      socket.close();
      socket.close(); // a second close is a no-op
      input.close();
      process.stdin.destroy();
      out({ event: 'closed', closed: socket.closed });
    }
  } catch (err) {
    out({ event: 'error', code: err.code, message: err.message });
  }
});
