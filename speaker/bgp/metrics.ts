// BGP mode's Prometheus metrics, named as MetalLB's (MetalLB's internal/bgp/native stats and internal/bgp/bfd metrics): the native
// speaker's session_up / updates_total / announced_prefixes_total, plus the FRR sidecar's
// opens and notifications counters. `peer` is "ip:port" as in MetalLB's native mode.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { MessageKind } from './session/peer-session.js';

export class BgpMetrics {
  private readonly sessionUp: Gauge<'peer'>;
  private readonly announced: Gauge<'peer'>;
  private readonly updates: Counter<'peer'>;
  private readonly opensSent: Counter<'peer'>;
  private readonly opensReceived: Counter<'peer'>;
  private readonly notificationsSent: Counter<'peer'>;
  private readonly notificationsReceived: Counter<'peer'>;
  private readonly updatesReceived: Counter<'peer'>;
  private readonly malformedUpdates: Counter<'peer' | 'action'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const gauge = (name: string, help: string): Gauge<'peer'> =>
      new Gauge({ name, help, labelNames: ['peer'], registers });
    const counter = (name: string, help: string): Counter<'peer'> =>
      new Counter({ name, help, labelNames: ['peer'], registers });
    this.sessionUp = gauge('metallb_bgp_session_up', 'BGP session state (1 is up, 0 is down)');
    this.announced = gauge(
      'metallb_bgp_announced_prefixes_total',
      'Number of prefixes currently being advertised on the BGP session',
    );
    this.updates = counter('metallb_bgp_updates_total', 'Number of BGP UPDATE messages sent');
    this.updatesReceived = counter(
      'metallb_bgp_updates_total_received',
      'Number of BGP UPDATE messages received (ignored: Beacon takes no routes)',
    );
    this.malformedUpdates = new Counter({
      name: 'beacon_bgp_malformed_updates_received_total',
      help: 'UPDATEs received with an RFC 7606 error the session survives, by action (treat-as-withdraw, attribute-discard)',
      labelNames: ['peer', 'action'],
      registers,
    });
    this.opensSent = counter('metallb_bgp_opens_sent', 'Number of BGP OPEN messages sent');
    this.opensReceived = counter('metallb_bgp_opens_received', 'Number of BGP OPEN messages received');
    this.notificationsSent = counter(
      'metallb_bgp_notifications_sent',
      'Number of BGP NOTIFICATION messages sent',
    );
    this.notificationsReceived = counter(
      'metallb_bgp_notifications_received',
      'Number of BGP NOTIFICATION messages received',
    );
  }

  /** A configured session: its series exist (session_up 0) before it first comes up. */
  added(peer: string): void {
    this.sessionUp.set({ peer }, 0);
    this.announced.set({ peer }, 0);
    this.updates.inc({ peer }, 0);
  }

  /** The session is gone from the configuration: its gauges go with it. */
  removed(peer: string): void {
    this.sessionUp.remove({ peer });
    this.announced.remove({ peer });
  }

  up(peer: string, up: boolean): void {
    this.sessionUp.set({ peer }, up ? 1 : 0);
    if (!up) this.announced.set({ peer }, 0);
  }

  prefixes(peer: string, count: number): void {
    this.announced.set({ peer }, count);
  }

  malformedUpdate(peer: string, action: 'treat-as-withdraw' | 'attribute-discard'): void {
    this.malformedUpdates.inc({ peer, action });
  }

  message(peer: string, direction: 'sent' | 'received', kind: MessageKind): void {
    const c =
      kind === 'update'
        ? direction === 'sent'
          ? this.updates
          : this.updatesReceived
        : kind === 'open'
          ? direction === 'sent'
            ? this.opensSent
            : this.opensReceived
          : kind === 'notification'
            ? direction === 'sent'
              ? this.notificationsSent
              : this.notificationsReceived
            : undefined;
    c?.inc({ peer });
  }
}
