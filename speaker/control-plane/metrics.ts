// Metrics of the control-plane VIP mode (docs/metrics.md). Gauges only: the state now.

import { Counter, Gauge, type Registry } from 'prom-client';

export class ControlPlaneMetrics {
  /** 1 while the local API server answers /readyz and /livez. */
  readonly apiReady: Gauge;
  /** 1 while this node may own VIPs (ready API server, link, packet sockets, not stopping). */
  readonly candidate: Gauge;
  /** 1 per VIP this node answers for now. */
  readonly owned: Gauge<'vip'>;
  /** Configuration values refused at run time, by flag. */
  readonly configProblems: Counter<'flag'>;
  /** Health probes that failed (timeouts, refusals, non-200). */
  readonly probeFailures: Counter;

  constructor(registry: Registry) {
    this.apiReady = new Gauge({
      name: 'beacon_control_plane_api_ready',
      help: 'Whether the local API server answers /readyz and /livez (1) or not (0).',
      registers: [registry],
    });
    this.candidate = new Gauge({
      name: 'beacon_control_plane_candidate',
      help: 'Whether this node may own the control-plane VIPs.',
      registers: [registry],
    });
    this.owned = new Gauge({
      name: 'beacon_control_plane_vip_owned',
      help: 'Whether this node answers for the VIP now.',
      labelNames: ['vip'],
      registers: [registry],
    });
    this.configProblems = new Counter({
      name: 'beacon_control_plane_config_problems_total',
      help: 'Configuration values refused (the log line names the flag and value).',
      labelNames: ['flag'],
      registers: [registry],
    });
    this.probeFailures = new Counter({
      name: 'beacon_control_plane_health_probe_failures_total',
      help: 'Health probes of the local API server that failed.',
      registers: [registry],
    });
  }
}
