// Test helper run inside a network namespace (`ip netns exec l2t-… node packet-socket-child.mjs
// <ifname> <ethertype> [thread]`), because Node cannot setns itself. It opens a PacketSocket with the
// built addon, reports on stdout (one JSON object a line) and takes orders on stdin:
//   stdout {"event":"ready","mac":"…"} | {"event":"frame","hex":"…","packetType":n} | {"event":"error",…}
//   stdin  "send <hex>" | "join <mac>" | "close"
//          "answer <ipv4,...>" (answer-thread sockets: setArpAnswers with our MAC)
//          "taken" -> {"event":"taken","answered":{"<ipv4 value>":n}}
//          "answer6 <hex of 16-byte addresses>" (setNdpAnswers with our MAC)
//          "taken6" -> {"event":"taken6","answered":{"<address hex>":n}}
//          "deadline <ms from now>|none" (setAnswerDeadline on CLOCK_MONOTONIC, as process.hrtime)
//          "budget <frames per second> <burst>" (setLoopBudget)
//          "cell <ms from now>|nan|inf" (a deadline cell over a SharedArrayBuffer, written by a
//          worker thread: setAnswerDeadlineCell once, then each "cell" only writes the cell)
//          "dropped" -> {"event":"dropped","fenced":n,"notOwned":n,"overload":n,"queueFull":n,"socketBuffer":n}
// Frames are decoded and built by the test itself with the TypeScript codecs; after "close"
// the process must exit on its own, which shows that a closed socket holds no loop handle.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';

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

let cell;
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
    } else if (command === 'deadline') {
      if (arg === 'none') socket.setAnswerDeadline();
      else socket.setAnswerDeadline(Number(process.hrtime.bigint()) / 1e6 + Number(arg));
      out({ event: 'deadline', arg });
    } else if (command === 'cell') {
      if (cell === undefined) {
        cell = new SharedArrayBuffer(8);
        new Float64Array(cell)[0] = Number.NaN;
        socket.setAnswerDeadlineCell(new Float64Array(cell));
      }
      // The worker writes the cell: the socket reads it without this thread's help.
      const value =
        arg === 'nan'
          ? 'NaN'
          : arg === 'inf'
            ? 'Infinity'
            : `${Number(process.hrtime.bigint()) / 1e6 + Number(arg)}`;
      const worker = new Worker(
        `const { workerData } = require('node:worker_threads'); new Float64Array(workerData)[0] = ${value};`,
        { eval: true, workerData: cell },
      );
      worker.on('exit', () => out({ event: 'cell', arg }));
    } else if (command === 'budget') {
      const [rate, burst] = line.trim().split(' ').slice(1).map(Number);
      socket.setLoopBudget(rate, burst);
      out({ event: 'budget', rate, burst });
    } else if (command === 'dropped') {
      out({ event: 'dropped', ...socket.takeDropped() });
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
