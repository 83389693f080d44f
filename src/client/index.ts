/**
 * The push cluster's client library, for browsers (bundled and served by every node at
 * `/push-client.js`) and Node.js.
 */

export type { Envelope, ErrorCode, PresenceEvent, RoomPosition } from '../protocol/index.js';
export type {
  ConnectionState,
  ConnectionStatus,
  StatusChange,
  TransportName,
} from './connection-status.js';
export {
  type EventMap,
  type PublishInput,
  PushClient,
  type PushClientOptions,
  type Transports,
} from './push-client.js';
export { PushError, type PushErrorCode } from './push-error.js';
export type { TokenSource } from './token-source.js';
