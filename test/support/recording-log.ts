// A Logger for unit tests that keeps every line it is given, so a test can assert what the code
// said (and at which level) instead of scraping stdout.

import type { LogFields, Logger } from '../../lib/log.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields;
}

/** A logger appending each line to `lines`; `with()` returns the same logger. */
export function recordingLogger(lines: LogLine[]): Logger {
  const at =
    (level: LogLine['level']) =>
    (msg: string, fields: LogFields = {}) =>
      void lines.push({ level, msg, fields });
  const log: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    with: () => log,
  };
  return log;
}

/** The lines as "level message", for compact assertions. */
export function logTexts(lines: readonly LogLine[]): string[] {
  return lines.map((l) => `${l.level} ${l.msg}`);
}
