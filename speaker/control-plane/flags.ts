// The flags of `beacon-speaker control-plane`. Defaults live in config.ts (a file may set any
// of them; flags win), so none are given here except the process-wide ones.

import type { FlagSpec } from '../../lib/flags.js';
import { logLevels } from '../../lib/log.js';

export const controlPlaneFlags: readonly FlagSpec[] = [
  { name: 'config', help: 'YAML or JSON file whose keys are these flag names (flags override it).' },
  {
    name: 'node-name',
    env: 'BEACON_NODE_NAME',
    help: 'This control-plane node’s name (default: the host name).',
  },
  { name: 'vip', env: 'BEACON_VIP', help: 'Comma-separated VIPs of the API server (IPv4 and/or IPv6).' },
  { name: 'port', help: 'API server port, on the VIP and locally (default 6443).' },
  {
    name: 'interface',
    env: 'BEACON_VIP_INTERFACE',
    help: 'Interface that answers for the VIPs (default: whichever has an address on their subnet).',
  },
  {
    name: 'peers',
    env: 'BEACON_VIP_PEERS',
    help: 'The other control-plane nodes: comma-separated name=address (membership heartbeats go there).',
  },
  {
    name: 'key-file',
    env: 'BEACON_VIP_KEY_FILE',
    help: 'File holding the membership key (at least 16 bytes, the same on every control-plane node).',
  },
  {
    name: 'mode',
    help: '"l2" (ARP/NDP, one owner per VIP; default) or "bgp" (every ready node announces the VIPs).',
  },
  { name: 'bgp-asn', help: 'bgp mode: this node’s AS number.' },
  {
    name: 'bgp-routers',
    help: 'bgp mode: the routers, comma-separated address:asn[:port] (IPv6 in brackets).',
  },
  { name: 'bgp-hold-time', help: 'bgp mode: hold time offered, in seconds (default 3).' },
  {
    name: 'bgp-bfd',
    help: 'bgp mode: BFD to every router, interval and multiplier, like 100msx3 (default none).',
  },
  {
    name: 'bgp-router-id',
    help: 'bgp mode: BGP identifier (default: the first IPv4 address of the VIP interface).',
  },
  {
    name: 'membership-port',
    help: 'UDP port of the control-plane membership (default 7947: the Service speaker uses 7946).',
  },
  { name: 'health-url', help: 'Base URL of the local API server (default https://127.0.0.1:<port>).' },
  { name: 'health-interval', help: 'Time between health probes (default 200ms).' },
  {
    name: 'health-timeout',
    help: 'A probe that takes longer always fails; the ceiling of the adaptive timeout (default 500ms).',
  },
  {
    name: 'health-timeout-min',
    help: 'Floor of the adaptive probe timeout, 4x the recent p99 of good probes (default 100ms).',
  },
  { name: 'health-fall', help: 'Consecutive failed probes that make the node not ready (default 2).' },
  { name: 'health-rise', help: 'Consecutive good probes that make it ready again (default 2).' },
  {
    name: 'health-ca',
    help: 'CA bundle to verify the API server with (default: not verified, loopback only).',
  },
  { name: 'metrics-host', default: '0.0.0.0', help: 'Address the metrics server binds.' },
  {
    name: 'metrics-port',
    env: 'BEACON_VIP_METRICS_PORT',
    default: '7473',
    kind: 'port',
    help: 'Port of /metrics, /healthz and /readyz (the Service speaker uses 7472).',
  },
  { name: 'log-level', default: 'info', choices: logLevels, help: 'Least severe level logged.' },
];
