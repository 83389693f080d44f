/**
 * The wire contract between clients and nodes: events, acknowledgements, envelopes, error codes
 * and limits. The one entry point for everything outside `src/protocol/` (server, client library,
 * benchmark and tests).
 */
export type {
  AckFailure,
  PresenceAck,
  PublishAck,
  PublishReceipt,
  RefreshAck,
  ReplayedMessage,
  RoomAck,
} from './ack.js';
export type {
  ClusterOverview,
  NodeReport,
  NodeStatus,
  RoomCount,
} from './cluster-overview.js';
export type { Envelope, RoomPosition } from './envelope.js';
export { ErrorCode, type ProtocolError } from './error-code.js';
export {
  CLIENT_EVENT_NAMES,
  type ClientToServerEvents,
  type EnvelopeEvents,
  type HandshakeAuth,
  type HandshakeJoin,
  type HandshakeRoom,
  type PresenceEvent,
  type ServerToClientEvents,
  type SubscribeOptions,
  type Unsubscribed,
  type Welcome,
} from './events.js';
export type { HistoryPage } from './history-page.js';
export {
  EVENT_NAME_PATTERN,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_WINDOW_SECONDS,
  MAX_DATA_DEPTH,
  MAX_HANDSHAKE_ROOMS,
  MAX_ROOMS_PER_CONNECTION,
  PRIVATE_ROOM_PREFIX,
  RESERVED_EVENT_NAMES,
  ROOM_NAME_PATTERN,
  ROOM_PATTERN_SYNTAX,
  USER_ID_PATTERN,
  USER_ROOM_PREFIX,
} from './limits.js';
export { DEFAULT_EVENT, type PublishRequest } from './publish-request.js';
export { SOCKET_PATH } from './socket-path.js';
