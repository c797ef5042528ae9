// What every Beacon binary does around its own work: parse flags (or print --help), log
// structured JSON, serve metrics, and stop cleanly on SIGTERM.

import { collectDefaultMetrics, Registry } from 'prom-client';
import { FlagError, parseFlags, usage, type FlagSpec } from './flags.js';
import { createLogger, isLogLevel, type Logger } from './log.js';
import { startMetricsServer } from './metrics-server.js';
import { Shutdown } from './shutdown.js';

export interface ComponentContext {
  flags: Record<string, string | undefined>;
  log: Logger;
  registry: Registry;
  shutdown: Shutdown;
  /** Marks the component ready (served on /readyz). */
  setReady(ready: boolean): void;
}

export interface ComponentSpec {
  program: string;
  summary: string;
  flags: readonly FlagSpec[];
  start(ctx: ComponentContext): Promise<void>;
}

export async function runComponent(
  spec: ComponentSpec,
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  let flags: Record<string, string | undefined>;
  try {
    const parsed = parseFlags(spec.flags, argv, env);
    if (parsed.help) {
      process.stdout.write(usage(spec.program, spec.summary, spec.flags));
      return;
    }
    flags = parsed.values;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`${spec.program}: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const level = flags['log-level'] ?? 'info';
  const log = createLogger({ level: isLogLevel(level) ? level : 'info', component: spec.program });
  const shutdown = new Shutdown(log);
  shutdown.installSignalHandlers();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let ready = false;
  try {
    const metrics = await startMetricsServer({
      registry,
      host: flags['metrics-host'] ?? '0.0.0.0',
      port: Number(flags['metrics-port'] ?? '7472'),
      ready: () => ready,
    });
    shutdown.add('metrics server', () => metrics.close());
    log.info('starting', { metricsPort: metrics.port, namespace: flags.namespace });
    await spec.start({ flags, log, registry, shutdown, setReady: (r) => (ready = r) });
  } catch (err) {
    log.error('failed to start', { error: err });
    await shutdown.run();
    process.exit(1);
  }
}
