// A real Prometheus (Debian's `prometheus` binary) for lab tests: a config and its TSDB in a
// temporary directory, listening on a free port of 127.0.0.1 in the root namespace, started as a
// root helper of the lab (so the lab's guardian ends it if the test dies) and stopped by PID.
// What the test needs from it: instant queries and the alerts' states (/api/v1/alerts).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { freePort } from '../env/control-plane.js';
import { processAlive, type Lab } from './lab.js';

export interface ScrapeJob {
  job: string;
  targets: Array<{ address: string; labels?: Record<string, string> }>;
  /** Keep the labels a target's series carry over the target's (speakers set `node` themselves). */
  honorLabels?: boolean;
}

export interface PrometheusOptions {
  lab: Lab;
  jobs: ScrapeJob[];
  /** Rule groups, as in a rule file. */
  rules: unknown;
  /** Scrape and rule evaluation interval; default 1s. */
  interval?: string;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LabPrometheus {
  readonly dir: string;
  private pid: number | undefined;
  private port = 0;

  constructor(private readonly opts: PrometheusOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `beacon-${opts.lab.prefix}prometheus-`));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logFile(): string {
    return path.join(this.opts.lab.dir, 'logs', 'prometheus.log');
  }

  async start(): Promise<void> {
    const interval = this.opts.interval ?? '1s';
    fs.writeFileSync(path.join(this.dir, 'rules.yaml'), yaml.dump(this.opts.rules));
    const config = {
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      rule_files: [path.join(this.dir, 'rules.yaml')],
      scrape_configs: this.opts.jobs.map((j) => ({
        job_name: j.job,
        honor_labels: j.honorLabels ?? false,
        static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      })),
    };
    const file = path.join(this.dir, 'prometheus.yaml');
    fs.writeFileSync(file, yaml.dump(config));
    this.port = await freePort();
    this.pid = this.opts.lab.spawnRoot(
      'prometheus',
      [
        `--config.file=${file}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--storage.tsdb.retention.time=1h',
      ],
      'prometheus.log',
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${this.url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return;
      if (!processAlive(this.pid) || Date.now() > deadline)
        throw new Error(`prometheus did not become ready; log:\n${this.tail()}`);
      await sleep(200);
    }
  }

  /** Ends Prometheus by its PID and removes its directory; idempotent. */
  async stop(): Promise<void> {
    const pid = this.pid;
    this.pid = undefined;
    if (pid !== undefined && processAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 40 && processAlive(pid); i++) await sleep(50);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  tail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private async api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${this.url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }

  /** An instant query, now. */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: unknown }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    if (data.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return [{ labels: {}, value: Number(v) }];
    }
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({
      labels: r.metric,
      value: Number(r.value[1]),
    }));
  }

  async alerts(): Promise<ActiveAlert[]> {
    return (await this.api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
  }

  /** Scrape targets and their health (up / down) with the last error. */
  async targets(): Promise<
    Array<{ job: string; labels: Record<string, string>; health: string; lastError: string }>
  > {
    const data = await this.api<{
      activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }>;
    }>('/api/v1/targets?state=active');
    return data.activeTargets.map((t) => ({ job: t.labels.job ?? '', ...t }));
  }
}

/** One change of an alert's state, as the test saw it (`resolved`: no longer pending or firing). */
export interface AlertChange {
  at: number;
  alert: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
}

/** Polls /api/v1/alerts and keeps every change of state of every alert instance. */
export class AlertTimeline {
  readonly changes: AlertChange[] = [];
  private readonly current = new Map<string, AlertChange>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly prometheus: LabPrometheus,
    private readonly everyMs = 200,
  ) {}

  static key(alert: string, labels: Record<string, string>): string {
    const rest = Object.entries(labels)
      .filter(([k]) => k !== 'alertname' && k !== 'severity')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`);
    return `${alert}{${rest.join(',')}}`;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll().catch(() => undefined);
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const a of await this.prometheus.alerts()) {
      const alert = a.labels.alertname ?? '';
      const key = AlertTimeline.key(alert, a.labels);
      seen.add(key);
      if (this.current.get(key)?.state !== a.state)
        this.record(key, { at: now, alert, labels: a.labels, state: a.state });
    }
    for (const [key, last] of this.current)
      if (!seen.has(key) && last.state !== 'resolved')
        this.record(key, { ...last, at: now, state: 'resolved' });
  }

  private record(key: string, change: AlertChange): void {
    this.current.set(key, change);
    this.changes.push(change);
  }

  /** The states `alert` (with labels matching `match`) went through since `from` (epoch ms). */
  states(alert: string, match: Record<string, string>, from: number): AlertChange[] {
    return this.changes.filter(
      (c) => c.alert === alert && c.at >= from && Object.entries(match).every(([k, v]) => c.labels[k] === v),
    );
  }

  /** Waits until `alert` (labels matching `match`) reaches `state` after `from`. */
  async waitFor(
    alert: string,
    match: Record<string, string>,
    state: AlertChange['state'],
    from: number,
    timeoutMs: number,
  ): Promise<AlertChange> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.states(alert, match, from).find((c) => c.state === state);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${alert}${JSON.stringify(match)} to be ${state}; ` +
            `seen: ${this.changes
              .filter((c) => c.at >= from)
              .map((c) => `${AlertTimeline.key(c.alert, c.labels)} ${c.state}`)
              .join('; ')}`,
        );
      await sleep(this.everyMs);
    }
  }

  /** "+1.2 s  AlertName{labels}  pending" lines for changes since `from`. */
  format(from: number, filter: (c: AlertChange) => boolean = () => true): string[] {
    return this.changes
      .filter((c) => c.at >= from && filter(c))
      .map(
        (c) =>
          `+${((c.at - from) / 1000).toFixed(1).padStart(5)} s  ${AlertTimeline.key(c.alert, c.labels).padEnd(70)} ${c.state}`,
      );
  }
}
