import { createLogger } from './log.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const log = createLogger({
    level,
    component: 'test',
    write: (l) => lines.push(l),
    now: () => new Date('2026-11-22T00:00:00Z'),
  });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes one JSON object per line with stable keys first', () => {
    const { log, lines } = capture('info');
    log.info('allocated', { service: 'default/myapp', ip: '192.168.10.222' });
    expect(lines).toEqual([
      '{"ts":"2026-11-22T00:00:00.000Z","level":"info","component":"test","msg":"allocated","service":"default/myapp","ip":"192.168.10.222"}',
    ]);
  });

  it('drops lines below the configured level', () => {
    const { log, parsed } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(parsed().map((e) => e.msg)).toEqual(['w', 'e']);
  });

  it('carries context from with() and serialises errors and bigints', () => {
    const { log, parsed } = capture('debug');
    log.with({ node: 'node1' }).error('failed', { error: new TypeError('boom'), count: 10n });
    expect(parsed()[0]).toMatchObject({
      node: 'node1',
      error: { name: 'TypeError', message: 'boom' },
      count: '10',
    });
  });
});
