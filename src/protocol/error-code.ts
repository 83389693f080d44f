/**
 * Machine-readable error codes carried in negative acks (`{ ok: false, error }`), in HTTP error
 * bodies (`{ error }`), in `connect_error` (`error.data.code`) and in `goodbye`.
 */
export const ErrorCode = {
  /** The request is not an object of the expected shape. */
  BadRequest: 'bad_request',
  /** A room name is missing or not 1–128 characters of `[A-Za-z0-9:_.-]`. */
  InvalidRoom: 'invalid_room',
  /** An event name is not 1–64 characters of `[A-Za-z0-9:_.-]`, or is reserved. */
  InvalidEvent: 'invalid_event',
  /** The payload (`data`) is missing or cannot be serialized. */
  InvalidData: 'invalid_data',
  /** The request is larger than `MAX_PAYLOAD_BYTES`. */
  PayloadTooLarge: 'payload_too_large',
  /** The connection already holds the maximum number of rooms. */
  TooManyRooms: 'too_many_rooms',
  /** The event name sent by the client is not part of the protocol. */
  UnknownEvent: 'unknown_event',
  /** Missing or wrong API key (HTTP). */
  Unauthorized: 'unauthorized',
  /** The identity may not do this (subscribe to that room, publish there, refresh as another user). */
  Forbidden: 'forbidden',
  /** Too many requests or events; slow down (HTTP 429 carries `Retry-After`). */
  RateLimited: 'rate_limited',
  /** The connection carries no token and guests are not allowed. */
  AuthRequired: 'auth_required',
  /** The token is malformed, forged, for another audience or issuer, or lacks a required claim. */
  TokenInvalid: 'token_invalid',
  /** The token has expired (at connection, or during it without a refresh). */
  TokenExpired: 'token_expired',
  /** A browser page from an origin that is not allowed (`CORS_ORIGINS`). */
  ForbiddenOrigin: 'forbidden_origin',
  /** The user already holds `MAX_CONNECTIONS_PER_USER` connections, or the node is full. */
  TooManyConnections: 'too_many_connections',
  /** The client read too slowly: more than `MAX_CLIENT_BUFFER_BYTES` waited for it. */
  SlowConsumer: 'slow_consumer',
  /** The HTTP request body is not `application/json`. */
  UnsupportedMediaType: 'unsupported_media_type',
  /** No such HTTP route. */
  NotFound: 'not_found',
  /** The node cannot reach the cluster bus (Redis) right now; retry later. */
  Unavailable: 'unavailable',
  /**
   * The idempotency key was used, within its window, for a publish with another room, event or
   * data.
   */
  IdempotencyConflict: 'idempotency_conflict',
  /**
   * The publish may or may not have gone through: the node lost Redis while handing it over (503),
   * or, from nginx (502), the node that had the request stopped before answering. Retry with the
   * same `idempotencyKey` to publish it exactly once.
   */
  OutcomeUnknown: 'outcome_unknown',
  /** An unexpected server-side failure. */
  Internal: 'internal',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error object carried by negative acks and HTTP error bodies. */
export interface ProtocolError {
  code: ErrorCode;
  message: string;
}
