import { describe, expect, it, vi } from 'vitest';
import { EventPacer } from '../../src/client/event-pacer.js';

describe('EventPacer', () => {
  it('sends half the burst at once, then at 80 % of the rate, in order', () => {
    vi.useFakeTimers();
    try {
      const pacer = new EventPacer({ rate: 10, burst: 10 }, () => Date.now());
      const sent: number[] = [];
      for (let i = 0; i < 9; i++) pacer.schedule(() => sent.push(i));
      expect(sent).toEqual([0, 1, 2, 3, 4]);
      expect(pacer.waiting).toBe(4);
      vi.advanceTimersByTime(125);
      expect(sent).toEqual([0, 1, 2, 3, 4, 5]);
      vi.advanceTimersByTime(375);
      expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      pacer.schedule(() => sent.push(9));
      pacer.stop();
      vi.advanceTimersByTime(1000);
      expect(sent).toHaveLength(9);
    } finally {
      vi.useRealTimers();
    }
  });
});
