import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type JoinRound, JoinRounds } from '../../src/client/join-rounds.js';

/** Rounds with a 1-s ack timeout that record every send as `room#attempt` with its time. */
function recording(ackTimeoutMs = 1_000) {
  const sent: string[] = [];
  const rounds = new JoinRounds(ackTimeoutMs, (room: string, round: JoinRound) =>
    sent.push(`${room}#${round.attempts}@${Date.now()}`),
  );
  return { rounds, sent };
}

/** Opens a round that must not be open yet. */
function open(
  rounds: JoinRounds,
  room: string,
  cause: JoinRound['cause'] = 'subscribe',
): JoinRound {
  const round = rounds.open(room, cause);
  if (round === undefined) throw new Error(`a round for ${room} was open already`);
  return round;
}

describe('JoinRounds', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends again until closed, the wait doubling from the ack timeout up to a minute', () => {
    const { rounds, sent } = recording();
    const round = open(rounds, 'a');
    rounds.send('a', round);
    vi.advanceTimersByTime(1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 32_000 + 60_000 + 60_000);
    expect(sent).toEqual([
      'a#1@0',
      'a#2@1000',
      'a#3@3000',
      'a#4@7000',
      'a#5@15000',
      'a#6@31000',
      'a#7@63000',
      'a#8@123000',
      'a#9@183000',
    ]);
    expect(rounds.close('a')).toBe(round);
    vi.advanceTimersByTime(120_000);
    expect(sent).toHaveLength(9);
  });

  it('keeps one round per room; a closed one is stale and sends nothing more', () => {
    const { rounds, sent } = recording();
    const first = open(rounds, 'a');
    expect(rounds.open('a', 'offsets')).toBeUndefined();
    rounds.close('a');
    const second = open(rounds, 'a', 'epoch');
    expect(second.cause).toBe('epoch');
    expect(rounds.isOpen('a', first)).toBe(false);
    rounds.send('a', first);
    rounds.retryLater('a', first);
    vi.advanceTimersByTime(60_000);
    expect(sent).toEqual([]);
    expect(rounds.snapshot()).toEqual(new Map([['a', second]]));
  });

  it('asks again after a backoff when refused with a code that passes, replacing the pending resend', () => {
    const { rounds, sent } = recording(10_000);
    const round = open(rounds, 'a', 'resubscribe');
    rounds.send('a', round);
    rounds.retryLater('a', round);
    // The backoff (500 ms after one attempt, jittered), not the 10-s ack timeout.
    vi.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(2);
    // Past the first ack wait (10 s): only the backoff's send, whose own wait is 20 s.
    vi.advanceTimersByTime(14_000);
    expect(sent).toHaveLength(2);
  });

  it('a round closed while it waits for the budget is never sent', () => {
    const { rounds, sent } = recording();
    rounds.paceWithin({ rate: 10, burst: 2 });
    rounds.send('a', open(rounds, 'a'));
    rounds.send('b', open(rounds, 'b'));
    expect(sent).toEqual(['a#1@0']);
    rounds.close('b');
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual(['a#1@0', 'a#2@1000']);
  });

  it('sends within the connection event budget, and nothing once abandoned', () => {
    const { rounds, sent } = recording();
    rounds.paceWithin({ rate: 10, burst: 4 });
    for (const room of ['a', 'b', 'c', 'd']) rounds.send(room, open(rounds, room, 'resubscribe'));
    // Half the burst at once, the rest as the budget allows.
    expect(sent).toEqual(['a#1@0', 'b#1@0']);
    vi.advanceTimersByTime(125);
    expect(sent).toHaveLength(3);
    expect(rounds.abandon().sort()).toEqual(['a', 'b', 'c', 'd']);
    vi.advanceTimersByTime(120_000);
    expect(sent).toHaveLength(3);
    expect(rounds.snapshot().size).toBe(0);
  });
});
