import type { Envelope } from './envelope.js';

/**
 * `GET /api/rooms/:room/history`: the room's messages after `since` (oldest first) and where the
 * room stands. `complete` says the history reaches back to `since` in the same epoch.
 */
export interface HistoryPage {
  room: string;
  /** The room's latest offset, and its epoch. */
  offset: number;
  epoch: string;
  complete: boolean;
  messages: { event: string; envelope: Envelope }[];
}
