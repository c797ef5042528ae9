// BGP for the control-plane VIPs: every control-plane node whose API server is ready announces
// each VIP (/32, /128) with next hop self to the routers, so the router spreads API connections
// over all ready nodes with ECMP — HAProxy's job, without its extra hop — and withdraws a node's
// route as soon as it stops being a candidate (or at once, by BFD or TCP, when the node dies).
// The sessions are the Service speaker's own (../bgp/session/sessions.ts, ../bgp/bfd), built
// from flags instead of BGPPeer objects: no Kubernetes API here either.

import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import type { BFDProfile } from '../../lib/config/types.js';
import { BgpBfd } from '../bgp/bfd/bgp-bfd.js';
import { BgpMetrics } from '../bgp/metrics.js';
import type { SessionSpec } from '../bgp/session/session-spec.js';
import { BgpSessions, type DesiredSession } from '../bgp/session/sessions.js';
import type { Announcement } from '../bgp/session/speaker-rib.js';
import type { BgpSettings } from './config.js';

/** The routes a node announces: every VIP while a candidate, none otherwise. Pure. */
export function vipRoutes(vips: readonly string[], candidate: boolean): Announcement[] {
  if (!candidate) return [];
  return vips.map((vip) => ({ prefix: vip.includes(':') ? `${vip}/128` : `${vip}/32` }));
}

/** The session specs for the configured routers. Pure. */
export function routerSessions(bgp: BgpSettings, routerId: string): SessionSpec[] {
  const bfdProfile: BFDProfile | undefined =
    bgp.bfd === undefined
      ? undefined
      : {
          ref: { kind: 'BFDProfile', namespace: '', name: 'control-plane' },
          receiveInterval: bgp.bfd.intervalMs,
          transmitInterval: bgp.bfd.intervalMs,
          detectMultiplier: bgp.bfd.multiplier,
          echoInterval: 50,
          echoMode: false,
          passiveMode: false,
          minimumTtl: 254,
        };
  return bgp.routers.map((r) => ({
    name: `router-${r.address}`,
    peerAddress: r.address,
    port: r.port,
    localAsn: bgp.localAsn,
    peerAsn: r.asn,
    routerId,
    holdTime: bgp.holdTime,
    connectRetryMs: 1000,
    gracefulRestart: false,
    ...(bfdProfile !== undefined ? { bfdProfile } : {}),
  }));
}

export class VipBgp {
  private readonly bfd: BgpBfd;
  private readonly sessions: BgpSessions;
  private candidate = false;
  private specs: readonly SessionSpec[] = [];

  constructor(
    private readonly vips: readonly string[],
    private readonly bgp: BgpSettings,
    log: Logger,
    registry: Registry,
  ) {
    this.bfd = new BgpBfd(log);
    this.sessions = new BgpSessions({ log, metrics: new BgpMetrics(registry), bfd: this.bfd.starter });
  }

  /** Starts (or keeps) the sessions with this BGP identifier. */
  setRouterId(routerId: string): void {
    this.specs = routerSessions(this.bgp, this.bgp.routerId ?? routerId);
    this.apply();
  }

  setCandidate(candidate: boolean): void {
    if (candidate === this.candidate) return;
    this.candidate = candidate;
    this.apply();
  }

  /** SIGTERM: withdraw, then Cease. */
  async stop(): Promise<void> {
    this.candidate = false;
    await this.sessions.stop('withdraw');
    this.bfd.close();
  }

  private apply(): void {
    const routes = vipRoutes(this.vips, this.candidate);
    const desired = new Map<string, DesiredSession>(this.specs.map((spec) => [spec.name, { spec, routes }]));
    this.sessions.apply(desired);
  }
}
