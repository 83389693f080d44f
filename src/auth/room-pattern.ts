import { ROOM_PATTERN_SYNTAX } from '../protocol/index.js';

/**
 * A set of room patterns, compiled for matching: exact names, prefixes (`chat:*`) and `*` (any
 * room). Matching costs one set lookup plus one `startsWith` per prefix.
 */
export interface RoomPatterns {
  /** True when `room` is one of the exact names or starts with one of the prefixes. */
  matches(room: string): boolean;
  /** True when the patterns include `*`, every room (and, for publishing, everyone). */
  readonly any: boolean;
  /** The patterns as given. */
  readonly source: readonly string[];
}

/** True for a well-formed pattern: a room name, `prefix*`, or `*`. */
export function isRoomPattern(value: unknown): value is string {
  return typeof value === 'string' && ROOM_PATTERN_SYNTAX.test(value);
}

/**
 * Compiled pattern sets, shared: the tokens of many users usually carry the same claims, and a
 * connection should not pay for its own copy.
 */
const compiled = new Map<string, RoomPatterns>();
const MAX_COMPILED = 1000;

/**
 * Compiles `patterns`, which must each satisfy {@link isRoomPattern}; the same patterns give the
 * same (immutable) object.
 */
export function compileRoomPatterns(patterns: readonly string[]): RoomPatterns {
  const key = patterns.join(',');
  const known = compiled.get(key);
  if (known !== undefined) return known;
  const fresh = compile(patterns);
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, fresh);
  return fresh;
}

function compile(patterns: readonly string[]): RoomPatterns {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let any = false;
  for (const pattern of patterns) {
    if (pattern === '*') any = true;
    else if (pattern.endsWith('*')) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  return {
    any,
    source: Object.freeze([...patterns]),
    matches: (room) => any || exact.has(room) || prefixes.some((prefix) => room.startsWith(prefix)),
  };
}

/** Patterns that match nothing. */
export const NO_ROOMS: RoomPatterns = compileRoomPatterns([]);
