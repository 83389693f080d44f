import { describe, expect, it } from 'vitest';
import { compileRoomPatterns } from '../../src/auth/room-pattern.js';
import type { ConnectionState } from '../../src/realtime/connection-state.js';
import { EventRateLimit } from '../../src/realtime/event-rate-limit.js';
import { TokenExpiry } from '../../src/realtime/token-expiry.js';

function state(limit: EventRateLimit, at: number): ConnectionState {
  return {
    identity: {
      userId: 'u',
      guest: false,
      rooms: compileRoomPatterns([]),
      publish: compileRoomPatterns([]),
      plainRooms: undefined,
      expiresAt: null,
      admin: false,
    },
    ...limit.initial(at),
  };
}

describe('the per-connection event bucket', () => {
  it('takes a burst at once, then the rate, and cuts after another burst of refusals', () => {
    const limit = new EventRateLimit(10, 5);
    const s = state(limit, 0);
    const decisions = Array.from({ length: 5 }, () => limit.take(s, 0));
    expect(decisions).toEqual(Array(5).fill('accept'));
    expect(limit.take(s, 0)).toBe('refuse');
    // 10 per second: one more after 100 ms, and a refusal right after it.
    expect(limit.take(s, 100)).toBe('accept');
    expect(limit.take(s, 100)).toBe('refuse');
    // Refusals in a row past the burst: cut.
    const more = Array.from({ length: 5 }, () => limit.take(s, 100));
    expect(more).toEqual(['refuse', 'refuse', 'refuse', 'refuse', 'cut']);
  });

  it('refills to the burst at most, and forgives refusals once an event passes', () => {
    const limit = new EventRateLimit(10, 5);
    const s = state(limit, 0);
    for (let i = 0; i < 5; i++) limit.take(s, 0);
    limit.take(s, 0);
    expect(s.refusedInRow).toBe(1);
    // An hour later: only `burst` events at once, not 36,000.
    const later = Array.from({ length: 6 }, () => limit.take(s, 3_600_000));
    expect(later).toEqual(['accept', 'accept', 'accept', 'accept', 'accept', 'refuse']);
    expect(limit.take(s, 3_600_100)).toBe('accept');
    expect(s.refusedInRow).toBe(0);
  });
});

describe('token expiry', () => {
  it('expires each connection once, at the second its token expires, unless cancelled or moved', () => {
    const expired: string[] = [];
    const expiry = new TokenExpiry<string>((connection) => expired.push(connection));
    try {
      expiry.schedule('a', 10_000);
      expiry.schedule('b', 10_500);
      expiry.schedule('c', 12_000);
      expiry.schedule('d', 10_200);
      expiry.cancel('d');
      expiry.schedule('c', 20_000); // a refresh moved it
      expiry.tick(9_999);
      expect(expired).toEqual([]);
      expiry.tick(10_000);
      expect(expired).toEqual(['a']);
      expiry.tick(11_000);
      expect(expired).toEqual(['a', 'b']);
      expiry.tick(15_000);
      expect(expired).toEqual(['a', 'b']);
      expiry.tick(20_000);
      expiry.tick(30_000);
      expect(expired).toEqual(['a', 'b', 'c']);
    } finally {
      expiry.close();
    }
  });
});
