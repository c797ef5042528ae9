// Graceful shutdown: SIGTERM/SIGINT run the registered hooks once, in reverse order of
// registration (last started, first stopped), then the process exits.

import type { Logger } from './log.js';

export type ShutdownHook = () => Promise<void> | void;

export class Shutdown {
  private readonly hooks: { name: string; run: ShutdownHook }[] = [];
  private started = false;
  /** Resolves once every hook has run. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(private readonly log: Logger) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  add(name: string, run: ShutdownHook): void {
    this.hooks.push({ name, run });
  }

  /** Installs handlers for SIGTERM and SIGINT; the process exits with `code` after the hooks. */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      this.log.info('shutting down', { signal });
      void this.run().then(() => exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  async run(): Promise<void> {
    if (this.started) return this.done;
    this.started = true;
    for (const hook of [...this.hooks].reverse()) {
      try {
        await hook.run();
      } catch (err) {
        this.log.error('shutdown step failed', { step: hook.name, error: err });
      }
    }
    this.log.info('stopped');
    this.resolveDone();
  }
}
