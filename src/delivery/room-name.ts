import { z } from 'zod';
import { ROOM_NAME_PATTERN } from '../protocol/index.js';

/** A valid room name: 1–128 characters of `[A-Za-z0-9:_.-]`. */
export const roomNameSchema = z
  .string({ error: 'room must be a string' })
  .regex(
    ROOM_NAME_PATTERN,
    'room must be 1-128 characters of letters, digits, ":", "_", "." or "-"',
  );
