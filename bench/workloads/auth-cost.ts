import { type ConnectBurst, connect } from './connect.js';
import { type FanoutResult, fanout } from './fanout.js';
import type { WorkloadContext } from './workload-context.js';

/**
 * What auth costs: connect bursts with a token per client (verified, counted per user, joined to
 * the user's room) against the same bursts as guests, and the fanout again as guests, to set
 * against the fanout with tokens run just before.
 */
export interface AuthCostResult {
  /** The faster of two bursts with tokens, interleaved with the guest ones. */
  tokenConnect: ConnectBurst;
  /** The faster of two bursts as guests. */
  guestConnect: ConnectBurst;
  guestFanout: FanoutResult;
}

/** Bursts per kind: interleaved, so that neither kind gains from running warmer. */
const ROUNDS = 2;

/** Runs the comparison; `undefined` for a target without auth (ws-raw). */
export async function authCost(context: WorkloadContext): Promise<AuthCostResult | undefined> {
  if (context.target.tokenSecret === undefined) return undefined;
  const tokens: ConnectBurst[] = [];
  const guests: ConnectBurst[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    tokens.push(await connect(context, 'token'));
    guests.push(await connect(context, 'guest'));
  }
  const guestFanout = await fanout(context, 'guest');
  return { tokenConnect: fastest(tokens), guestConnect: fastest(guests), guestFanout };
}

function fastest(bursts: ConnectBurst[]): ConnectBurst {
  return bursts.reduce((best, burst) =>
    burst.connectsPerSec > best.connectsPerSec ? burst : best,
  );
}
