// The control-plane VIP mode's configuration: flags, or a YAML/JSON file whose keys are the flag
// names (flags win). Pure: the given values in, a validated configuration plus the problems out.
//
// Two kinds of problem. A value that makes the whole mode meaningless (an unknown mode, a port
// that is not a port, a peer list that cannot be read) is fatal: the process says which flag
// and value and exits. A value that spoils only itself — one VIP that does not parse — is
// dropped with a problem naming the flag and value, and the rest is served; VIPs off every
// interface's subnet, an unreadable key file and an unreachable health URL are found at run
// time (placement.ts, key-file.ts, probe.ts) and reported the same way.

import os from 'node:os';
import yaml from 'js-yaml';
import { formatIP, tryParseIP } from '../../lib/ip/index.js';

export type VipMode = 'l2' | 'bgp';

export interface ControlPlanePeer {
  readonly name: string;
  readonly address: string;
}

export interface HealthSettings {
  /** Base URL of the local API server, e.g. https://127.0.0.1:6443; /readyz and /livez are probed. */
  readonly url: string;
  readonly intervalMs: number;
  /** The most a probe may take (the timeout before any good probe was seen). */
  readonly timeoutMs: number;
  /** The least: the timeout follows the server's recent latency in between (health.ts). */
  readonly timeoutMinMs: number;
  /** Consecutive failed probes that make the node not ready. */
  readonly fall: number;
  /** Consecutive good probes that make it ready again. */
  readonly rise: number;
  /** CA bundle that verifies the API server's certificate; unset: not verified (loopback only). */
  readonly caFile?: string;
}

export interface BgpRouter {
  readonly address: string;
  readonly asn: number;
  readonly port: number;
}

export interface BgpSettings {
  readonly localAsn: number;
  readonly routers: readonly BgpRouter[];
  /** Seconds offered in OPEN (keepalives every third of it). */
  readonly holdTime: number;
  /** BFD (RFC 5880) to every router: intervals in ms and the detect multiplier; unset: none. */
  readonly bfd?: { readonly intervalMs: number; readonly multiplier: number };
  readonly routerId?: string;
}

export interface ControlPlaneConfig {
  readonly node: string;
  readonly vips: readonly string[];
  /** The API server port, served on the VIP (and probed locally unless --health-url says else). */
  readonly port: number;
  /** The interface that answers for the VIPs; unset: whichever has an address on their subnet. */
  readonly interface?: string;
  readonly peers: readonly ControlPlanePeer[];
  readonly keyFile?: string;
  readonly mode: VipMode;
  readonly membershipPort: number;
  readonly health: HealthSettings;
  /** Set in bgp mode. */
  readonly bgp?: BgpSettings;
}

export interface ConfigProblem {
  readonly flag: string;
  readonly value: string;
  readonly message: string;
}

export class ControlPlaneConfigError extends Error {}

/** Flag names and their defaults (applied after file and flags: flags > file > default). */
export const controlPlaneDefaults: Readonly<Record<string, string | undefined>> = {
  port: '6443',
  mode: 'l2',
  'membership-port': '7947',
  'health-interval': '200ms',
  'health-timeout': '500ms',
  'health-timeout-min': '100ms',
  'health-fall': '2',
  'health-rise': '2',
  'bgp-hold-time': '3',
};

/** The keys a configuration file may hold: the flag names. */
export const controlPlaneKeys = [
  'node-name',
  'vip',
  'port',
  'interface',
  'peers',
  'key-file',
  'mode',
  'membership-port',
  'health-url',
  'health-interval',
  'health-timeout',
  'health-timeout-min',
  'health-fall',
  'health-rise',
  'health-ca',
  'bgp-asn',
  'bgp-routers',
  'bgp-hold-time',
  'bgp-bfd',
  'bgp-router-id',
] as const;

/** Reads a configuration file's text (YAML, of which JSON is a subset) into flag values. */
export function parseConfigFile(text: string, source: string): Record<string, string> {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new ControlPlaneConfigError(`--config ${source}: not YAML or JSON: ${(err as Error).message}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ControlPlaneConfigError(`--config ${source}: want a mapping of flag names to values`);
  const known = new Set<string>(controlPlaneKeys);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.has(key))
      throw new ControlPlaneConfigError(
        `--config ${source}: unknown key ${JSON.stringify(key)} (keys are the flag names: ${controlPlaneKeys.join(', ')})`,
      );
    out[key] = fileValue(key, value, source);
  }
  return out;
}

function fileValue(key: string, value: unknown, source: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  if (Array.isArray(value))
    return value
      .map((v) => {
        if (typeof v === 'string' || typeof v === 'number') return String(v);
        // peers: [{name, address}]
        if (v !== null && typeof v === 'object' && 'name' in v && 'address' in v)
          return `${String((v as { name: unknown }).name)}=${String((v as { address: unknown }).address)}`;
        throw new ControlPlaneConfigError(`--config ${source}: ${key}: ${JSON.stringify(v)} is not a value`);
      })
      .join(',');
  throw new ControlPlaneConfigError(`--config ${source}: ${key}: ${JSON.stringify(value)} is not a value`);
}

/** "200ms", "1s", "150" (ms) → ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : n;
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Flag values (flags over file) → the configuration and the problems of values dropped.
 * Throws ControlPlaneConfigError for a fatal value.
 */
export function resolveConfig(
  flags: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, string>> = {},
  hostname: string = os.hostname(),
): { config: ControlPlaneConfig; problems: ConfigProblem[] } {
  const get = (name: string): string | undefined => flags[name] ?? file[name] ?? controlPlaneDefaults[name];
  const fatal = (flag: string, value: string, why: string): never => {
    throw new ControlPlaneConfigError(`--${flag} ${JSON.stringify(value)}: ${why}`);
  };
  const problems: ConfigProblem[] = [];
  const integer = (flag: string, min: number, max: number): number => {
    const text = get(flag) ?? '';
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) fatal(flag, text, `want an integer from ${min} to ${max}`);
    return n;
  };
  const duration = (flag: string, min: number): number => {
    const text = get(flag) ?? '';
    const ms = parseDuration(text);
    if (ms === undefined || ms < min)
      fatal(flag, text, `want a duration of at least ${min}ms, like 200ms or 1s`);
    return ms!;
  };

  const mode = get('mode') ?? 'l2';
  if (mode !== 'l2' && mode !== 'bgp') fatal('mode', mode, 'want "l2" or "bgp"');
  const port = integer('port', 1, 65535);
  const membershipPort = integer('membership-port', 1, 65535);

  const node = get('node-name') ?? hostname;
  if (node === '') fatal('node-name', node, 'empty');

  const vips: string[] = [];
  for (const text of list(get('vip'))) {
    const ip = tryParseIP(text);
    if (ip === undefined) {
      problems.push({ flag: 'vip', value: text, message: 'not an IP address; this VIP is not served' });
      continue;
    }
    const canonical = formatIP(ip);
    if (!vips.includes(canonical)) vips.push(canonical);
  }
  if (vips.length === 0 && problems.length === 0)
    problems.push({ flag: 'vip', value: get('vip') ?? '', message: 'no VIP given; nothing is served' });

  const peers: ControlPlanePeer[] = [];
  for (const entry of list(get('peers'))) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    const address = eq < 0 ? entry : entry.slice(eq + 1);
    const ip = tryParseIP(address);
    if (name === '' || ip === undefined)
      fatal(
        'peers',
        entry,
        'want name=address (or an address), the address an IP of that control-plane node',
      );
    if (name === node) continue;
    if (peers.some((p) => p.name === name))
      fatal('peers', entry, `peer ${JSON.stringify(name)} is listed twice`);
    peers.push({ name, address: formatIP(ip!) });
  }

  const healthUrl = get('health-url') ?? `https://127.0.0.1:${port}`;
  let url: URL | undefined;
  try {
    url = new URL(healthUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== 'https:')
    fatal(
      'health-url',
      healthUrl,
      'want an https:// URL of the local API server, like https://127.0.0.1:6443',
    );
  const intervalMs = duration('health-interval', 10);
  const timeoutMs = duration('health-timeout', 10);
  const timeoutMinMs = duration('health-timeout-min', 10);
  if (timeoutMinMs > timeoutMs)
    fatal(
      'health-timeout-min',
      get('health-timeout-min') ?? '',
      `must not exceed --health-timeout (${timeoutMs}ms)`,
    );
  const caFile = get('health-ca');
  const keyFile = get('key-file');
  if (keyFile === undefined)
    problems.push({
      flag: 'key-file',
      value: '',
      message: 'no membership key file given; no VIP is answered without one',
    });
  const iface = get('interface');

  let bgp: BgpSettings | undefined;
  if (mode === 'bgp') {
    const asnText = get('bgp-asn') ?? '';
    if (!/^\d+$/.test(asnText) || Number(asnText) < 1 || Number(asnText) > 4294967295)
      fatal('bgp-asn', asnText, 'bgp mode needs this node’s AS number (1 to 4294967295)');
    const routers = list(get('bgp-routers')).map((entry) => parseRouter(entry, fatal));
    if (routers.length === 0)
      fatal('bgp-routers', get('bgp-routers') ?? '', 'bgp mode needs at least one router, address:asn');
    const bfdText = get('bgp-bfd');
    let bfd: BgpSettings['bfd'];
    if (bfdText !== undefined && bfdText !== '' && bfdText !== 'false') {
      const m = /^(\d+)ms(?:x(\d+))?$/.exec(bfdText);
      if (!m || Number(m[1]) < 10)
        fatal('bgp-bfd', bfdText, 'want the BFD interval and multiplier, like 100msx3');
      bfd = { intervalMs: Number(m![1]), multiplier: Number(m![2] ?? 3) };
    }
    const routerId = get('bgp-router-id');
    if (routerId !== undefined && tryParseIP(routerId)?.family !== 4)
      fatal('bgp-router-id', routerId, 'want an IPv4 address');
    bgp = {
      localAsn: Number(asnText),
      routers,
      holdTime: integer('bgp-hold-time', 3, 65535),
      ...(bfd !== undefined ? { bfd } : {}),
      ...(routerId !== undefined ? { routerId } : {}),
    };
  }

  return {
    config: {
      node,
      vips,
      port,
      ...(iface !== undefined && iface !== '' ? { interface: iface } : {}),
      peers,
      ...(keyFile !== undefined ? { keyFile } : {}),
      mode: mode as VipMode,
      membershipPort,
      health: {
        url: healthUrl.replace(/\/+$/, ''),
        intervalMs,
        timeoutMs,
        timeoutMinMs,
        fall: integer('health-fall', 1, 100),
        rise: integer('health-rise', 1, 100),
        ...(caFile !== undefined && caFile !== '' ? { caFile } : {}),
      },
      ...(bgp !== undefined ? { bgp } : {}),
    },
    problems,
  };
}

/** "10.77.0.1:64500", "[fd00::1]:64500", optionally "...:64500:1179" with a port. */
function parseRouter(entry: string, fatal: (flag: string, value: string, why: string) => never): BgpRouter {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)(?::(\d+))?$/.exec(entry);
  const address = m?.[1] ?? m?.[2] ?? '';
  const ip = tryParseIP(address);
  const asn = Number(m?.[3] ?? NaN);
  const port = Number(m?.[4] ?? 179);
  if (!m || ip === undefined || asn < 1 || asn > 4294967295 || port < 1 || port > 65535)
    fatal('bgp-routers', entry, 'want address:asn (IPv6 in brackets), optionally :port');
  return { address: formatIP(ip!), asn, port };
}
