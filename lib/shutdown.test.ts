import { createLogger } from './log.js';
import { Shutdown } from './shutdown.js';

describe('Shutdown', () => {
  it('runs hooks once, last registered first, even when one fails', async () => {
    const lines: string[] = [];
    const s = new Shutdown(createLogger({ level: 'info', component: 't', write: (l) => lines.push(l) }));
    const order: string[] = [];
    s.add('first', () => void order.push('first'));
    s.add('failing', () => {
      throw new Error('nope');
    });
    s.add('last', async () => void order.push('last'));
    await Promise.all([s.run(), s.run()]);
    expect(order).toEqual(['last', 'first']);
    expect(lines.some((l) => l.includes('"step":"failing"'))).toBe(true);
  });
});
