// Layer 2 metrics: MetalLB's names and labels (MetalLB's internal/layer2/stats.go), plus Beacon's failover
// timings. The responder and announcer keep their own per-IP totals; the counters here copy
// them at scrape time, so the packet hot path never touches prom-client.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface FrameTotals {
  requestsReceived: ReadonlyMap<string, number>;
  responsesSent: ReadonlyMap<string, number>;
  gratuitousSent: ReadonlyMap<string, number>;
  /** Duplicate responders seen per owned IP (every one, reported or not). */
  conflicts?: ReadonlyMap<string, number>;
  /** Frames neither answered nor decided, by reason (ResponderCounters.dropped). */
  dropped?: ReadonlyMap<string, number>;
  /** Conflicts seen but not logged or recorded as an Event (the per-IP report interval). */
  conflictsSuppressed?: number;
  /** Frames that failed to decode, by reason (ResponderCounters.malformedByReason). */
  malformed?: ReadonlyMap<string, number>;
}

/** Copies a monotonically growing per-IP total into a counter at scrape time. */
function mirror(counter: Counter<'ip'>, totals: () => ReadonlyMap<string, number>): void {
  counter.reset();
  for (const [ip, n] of totals()) counter.inc({ ip }, n);
}

export class Layer2Metrics {
  readonly announced: Gauge<'protocol' | 'service' | 'node' | 'ip'>;
  readonly failoverSeconds: Histogram;
  readonly unownedSeconds: Counter<'ip'>;
  readonly conflicts: Counter<'ip'>;
  /** 1 while the membership key is missing (the speaker announces nothing). */
  readonly keyMissing: Gauge;
  /** 1 while this node's ARP/NDP responder can answer (the health it puts in heartbeats). */
  readonly responderUp: Gauge;
  /** Since when (Unix seconds) this node has been answering for an IP, while it does. */
  readonly announcingSince: Gauge<'ip' | 'node'>;
  /** A handler of the layer 2 mode threw; it was logged and the mode went on. */
  readonly handlerErrors: Counter<'handler'>;
  private totals: (() => FrameTotals) | undefined;
  /** Membership datagrams and messages dropped, by reason, as the worker last reported them. */
  private memberDrops: Readonly<Record<string, number>> = {};
  /** This speaker's rejoins (new incarnations after its start), as the worker last reported them. */
  private memberRejoins = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.announced = new Gauge({
      name: 'metallb_speaker_announced',
      help: 'Services being announced from this node (desired state): 1 per service, IP and protocol.',
      labelNames: ['protocol', 'service', 'node', 'ip'],
      registers,
    });
    const frames = (name: string, help: string, pick: (t: FrameTotals) => ReadonlyMap<string, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['ip'],
        registers,
        collect() {
          const totals = self.totals?.();
          if (totals !== undefined) mirror(this, () => pick(totals));
        },
      });
    frames(
      'metallb_layer2_requests_received',
      'ARP requests and Neighbor Solicitations received for an owned IP.',
      (t) => t.requestsReceived,
    );
    frames(
      'metallb_layer2_responses_sent',
      'ARP replies and Neighbor Advertisements sent for an owned IP.',
      (t) => t.responsesSent,
    );
    frames(
      'metallb_layer2_gratuitous_sent',
      'Gratuitous ARP and unsolicited Neighbor Advertisement frames sent on takeover.',
      (t) => t.gratuitousSent,
    );
    this.failoverSeconds = new Histogram({
      name: 'beacon_layer2_failover_seconds',
      help:
        'From the previous owner of an IP being declared dead or gone by membership to this node ' +
        'sending its first gratuitous frame for the IP.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.unownedSeconds = new Counter({
      name: 'beacon_layer2_unowned_seconds_total',
      help:
        'Time an announceable IP had no live owner claiming it, as this speaker saw it (every ' +
        'speaker counts its own view; take the max across nodes, not the sum).',
      labelNames: ['ip'],
      registers,
    });
    this.conflicts = new Counter({
      name: 'beacon_layer2_conflicts_total',
      help: 'Another station answered ARP/NDP for an IP this node owns (duplicate responder).',
      labelNames: ['ip'],
      registers,
      collect() {
        const conflicts = self.totals?.().conflicts;
        if (conflicts !== undefined) mirror(this, () => conflicts);
      },
    });
    new Counter({
      name: 'beacon_layer2_dropped_frames_total',
      help:
        'ARP/NDP frames the responder neither answered nor decided, by reason: fenced (past the ' +
        'answer deadline), not-owned, overload (a flood beyond what the event loop is given), ' +
        'queue-full, socket-buffer (the kernel dropped it: the receive buffer was full), ' +
        'receive-error, exception.',
      labelNames: ['reason'],
      registers,
      collect() {
        const dropped = self.totals?.().dropped;
        if (dropped === undefined) return;
        this.reset();
        for (const [reason, n] of dropped) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'beacon_layer2_malformed_frames_total',
      help: 'ARP/NDP frames that reached the responder and failed to decode, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        const malformed = self.totals?.().malformed;
        if (malformed === undefined) return;
        this.reset();
        for (const [reason, n] of malformed) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'beacon_layer2_conflict_reports_suppressed_total',
      help: 'Duplicate responders seen but not logged nor recorded as an Event (one report per IP per interval).',
      registers,
      collect() {
        const n = self.totals?.().conflictsSuppressed;
        if (n === undefined) return;
        this.reset();
        this.inc(n);
      },
    });
    new Counter({
      name: 'beacon_layer2_membership_dropped_total',
      help:
        'Membership datagrams dropped, by reason: size, magic, version, auth (forged or wrong key), ' +
        'malformed, old (outside the sent-at window), replay, stale-incarnation, unknown-peer, ...',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(self.memberDrops)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'beacon_layer2_membership_rejoins_total',
      help:
        'New incarnations of this speaker after its start (its lease lapsed, it refuted news of its ' +
        'death, or its data plane became healthy again): each leaves its IPs unanswered until every ' +
        'peer confirmed it.',
      registers,
      collect() {
        this.reset();
        this.inc(self.memberRejoins);
      },
    });
    this.keyMissing = new Gauge({
      name: 'beacon_layer2_memberlist_key_missing',
      help: '1 while the memberlist Secret is missing or invalid: layer 2 announces nothing.',
      registers,
    });
    this.responderUp = new Gauge({
      name: 'beacon_layer2_responder_up',
      help:
        '1 while this node can answer ARP/NDP (a packet socket opens and none has failed); at 0 ' +
        'its heartbeats say so and the other nodes take its IPs.',
      registers,
    });
    this.announcingSince = new Gauge({
      name: 'beacon_layer2_announcing_since_timestamp_seconds',
      help: 'When this node began answering ARP/NDP for the IP (Unix time), while it does.',
      labelNames: ['ip', 'node'],
      registers,
    });
    this.handlerErrors = new Counter({
      name: 'beacon_layer2_handler_errors_total',
      help:
        'Errors thrown by a handler of the layer 2 mode (a responder callback, a membership report, ' +
        'a change of configuration, cluster or interfaces), by handler; each is logged and the mode goes on.',
      labelNames: ['handler'],
      registers,
    });
  }

  /** Where the frame counters read their totals from (the responder and the announcer). */
  readFramesFrom(totals: () => FrameTotals): void {
    this.totals = totals;
  }

  /** The membership worker's cumulative drop counts (ring mode), copied at scrape time. */
  membershipDrops(dropped: Readonly<Record<string, number>>): void {
    this.memberDrops = dropped;
  }

  /** The membership worker's rejoin count (ring mode), copied at scrape time. */
  membershipRejoins(rejoins: number): void {
    this.memberRejoins = rejoins;
  }
}
