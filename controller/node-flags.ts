// The V8 flags the controller runs with: the image's CMD, the chart, the manifests and the
// lab's launchers all use these (test/unit/controller-node-flags.test.ts checks that they do).
//
// `--max-semi-space-size` caps each half of V8's young generation (16 MB by default on 64-bit
// Node.js). The controller's bursts of watch events and write answers otherwise let the young
// generation grow to its full 32 MB before it is collected, which is resident memory and no
// speed: measured with `make bench-peers` (controller rows, docs/peer-benchmarks.md), 8 MB cut
// the peak RSS from 110 to 96 MB at 1,000 Services and from 150 to 132 MB at 5,000 (after a
// restart with 5,000 allocated: 127 to 110 MB, below MetalLB's 116), with the same time to
// all allocated and the same CPU seconds.
// https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib
export const controllerNodeFlags: readonly string[] = ['--max-semi-space-size=8'];
