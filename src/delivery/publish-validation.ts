import { z } from 'zod';
import {
  DEFAULT_EVENT,
  ErrorCode,
  EVENT_NAME_PATTERN,
  IDEMPOTENCY_KEY_PATTERN,
  MAX_DATA_DEPTH,
  type ProtocolError,
  RESERVED_EVENT_NAMES,
  USER_ID_PATTERN,
  USER_ROOM_PREFIX,
} from '../protocol/index.js';
import { roomNameSchema } from './room-name.js';

/** A publish request that passed validation, with defaults applied. */
export interface ValidPublish {
  /** The target room (`user: "alice"` becomes `user:alice`), or `null` for everyone. */
  room: string | null;
  event: string;
  data: unknown;
  /** Set for a room message whose retries must not be published again. */
  idempotencyKey?: string;
}

/** The outcome of {@link validatePublish}. */
export type PublishValidation =
  | { ok: true; publish: ValidPublish }
  | { ok: false; error: ProtocolError };

const eventNameSchema = z
  .string({ error: 'event must be a string' })
  .regex(
    EVENT_NAME_PATTERN,
    'event must be 1-64 characters of letters, digits, ":", "_", "." or "-"',
  )
  .refine((name) => !RESERVED_EVENT_NAMES.has(name), {
    error: (issue) => `event "${String(issue.input)}" is reserved`,
  });

/** Unknown keys are rejected: a misspelt `room` must not turn into a broadcast to everyone. */
const publishSchema = z.strictObject(
  {
    room: roomNameSchema.nullish(),
    user: z
      .string({ error: 'user must be a string' })
      .regex(
        USER_ID_PATTERN,
        'user must be 1-123 characters of letters, digits, ":", "_", "." or "-"',
      )
      .optional(),
    event: eventNameSchema.optional(),
    data: z.unknown().refine((value) => value !== undefined, 'data is required'),
    idempotencyKey: z
      .string({ error: 'idempotencyKey must be a string' })
      .regex(IDEMPOTENCY_KEY_PATTERN, 'idempotencyKey must be 1-128 visible ASCII characters')
      .optional(),
  },
  { error: 'unknown field in publish request' },
);

const CODE_BY_FIELD: Readonly<Record<string, ErrorCode>> = {
  room: ErrorCode.InvalidRoom,
  user: ErrorCode.InvalidRoom,
  event: ErrorCode.InvalidEvent,
  data: ErrorCode.InvalidData,
};

/**
 * Checks a publish request from any source (socket or HTTP) and applies defaults.
 *
 * @param input - the untrusted request, as decoded from the wire.
 * @param maxBytes - the largest accepted request, measured as its JSON encoding.
 */
export function validatePublish(input: unknown, maxBytes: number): PublishValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return failure(
      ErrorCode.BadRequest,
      'publish request must be an object like { room?, user?, event?, data }',
    );
  }
  const size = jsonSize(input);
  if (size === undefined) {
    return failure(ErrorCode.InvalidData, 'publish request cannot be encoded as JSON');
  }
  if (size > maxBytes) {
    return failure(
      ErrorCode.PayloadTooLarge,
      `publish request is ${size} bytes, over the limit of ${maxBytes} bytes`,
    );
  }
  const parsed = publishSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.code === 'unrecognized_keys' ? undefined : issue?.path[0];
    const code = (typeof field === 'string' && CODE_BY_FIELD[field]) || ErrorCode.BadRequest;
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}; expected room or user, event, data, idempotencyKey`
        : (issue?.message ?? 'invalid publish request');
    return failure(code, message);
  }
  const { room, user, event, data, idempotencyKey } = parsed.data;
  const dataProblem = notJson(data, 1);
  if (dataProblem !== undefined) return failure(ErrorCode.InvalidData, dataProblem);
  if (user !== undefined && room !== undefined && room !== null) {
    return failure(ErrorCode.BadRequest, 'give room or user, not both');
  }
  const target = user === undefined ? (room ?? null) : `${USER_ROOM_PREFIX}${user}`;
  if (idempotencyKey !== undefined && target === null) {
    return failure(
      ErrorCode.BadRequest,
      'idempotencyKey needs a room or a user: messages to everyone are at most once',
    );
  }
  const publish: ValidPublish = { room: target, event: event ?? DEFAULT_EVENT, data };
  if (idempotencyKey !== undefined) publish.idempotencyKey = idempotencyKey;
  return { ok: true, publish };
}

/**
 * Why `value` is not plain JSON data, if it is not: binary (a Socket.IO attachment arrives as a
 * Buffer, which JSON.stringify would quietly turn into an object), or nested deeper than
 * {@link MAX_DATA_DEPTH}.
 */
function notJson(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return 'data must be JSON; binary attachments are not accepted';
  }
  if (depth > MAX_DATA_DEPTH) return `data may nest at most ${MAX_DATA_DEPTH} levels deep`;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    const problem = notJson(item, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function jsonSize(value: unknown): number | undefined {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : Buffer.byteLength(json);
  } catch {
    return undefined;
  }
}

function failure(code: ErrorCode, message: string): PublishValidation {
  return { ok: false, error: { code, message } };
}
