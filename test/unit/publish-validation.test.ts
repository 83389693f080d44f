import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePublish } from '../../src/delivery/publish-validation.js';
import {
  ErrorCode,
  EVENT_NAME_PATTERN,
  RESERVED_EVENT_NAMES,
  ROOM_NAME_PATTERN,
} from '../../src/protocol/index.js';

const LIMIT = 1024;

describe('validatePublish', () => {
  it('applies defaults: no room is everyone, no event is "message"', () => {
    expect(validatePublish({ data: { text: 'hi' } }, LIMIT)).toEqual({
      ok: true,
      publish: { room: null, event: 'message', data: { text: 'hi' } },
    });
  });

  it('keeps room, event and any JSON data, including null and false', () => {
    for (const data of [null, false, 0, '', [], { nested: [1, 2] }]) {
      expect(validatePublish({ room: 'chat:1', event: 'chat.new', data }, LIMIT)).toEqual({
        ok: true,
        publish: { room: 'chat:1', event: 'chat.new', data },
      });
    }
  });

  it('treats room: null as everyone', () => {
    const result = validatePublish({ room: null, data: 1 }, LIMIT);
    expect(result.ok && result.publish.room).toBe(null);
  });

  it.each([
    [undefined, 'bad_request'],
    [null, 'bad_request'],
    ['text', 'bad_request'],
    [[{ data: 1 }], 'bad_request'],
    [{}, 'invalid_data'],
    [{ room: 'a' }, 'invalid_data'],
    [{ room: '', data: 1 }, 'invalid_room'],
    [{ room: 'has space', data: 1 }, 'invalid_room'],
    [{ room: 'x'.repeat(129), data: 1 }, 'invalid_room'],
    [{ room: 42, data: 1 }, 'invalid_room'],
    [{ room: 'a', event: '', data: 1 }, 'invalid_event'],
    [{ room: 'a', event: 'connect', data: 1 }, 'invalid_event'],
    [{ room: 'a', event: 'disconnect', data: 1 }, 'invalid_event'],
    [{ room: 'a', event: 'welcome', data: 1 }, 'invalid_event'],
    [{ room: 'a', event: 'e'.repeat(65), data: 1 }, 'invalid_event'],
    [{ room: 'a', event: ['x'], data: 1 }, 'invalid_event'],
    [{ rooom: 'a', data: 1 }, 'bad_request'],
    [{ user: 'alice', room: 'a', data: 1 }, 'bad_request'],
    [{ user: 'has space', data: 1 }, 'invalid_room'],
    [{ user: '', data: 1 }, 'invalid_room'],
    [{ user: 42, data: 1 }, 'invalid_room'],
    [{ room: 'a', event: 'goodbye', data: 1 }, 'invalid_event'],
    [{ ['__proto__']: { room: 'x' }, data: 1 }, 'bad_request'],
  ])('rejects %j with %s', (input, code) => {
    const result = validatePublish(input, LIMIT);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe(code);
      expect(result.error.message.length).toBeGreaterThan(5);
    }
  });

  it('never turns a misspelt room into a broadcast to everyone', () => {
    const result = validatePublish({ Room: 'private', data: 'secret' }, LIMIT);
    expect(result).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(!result.ok && result.error.message).toContain('"Room"');
  });

  it('accepts a request of exactly the limit and rejects one byte more', () => {
    const overhead = JSON.stringify({ data: '' }).length;
    const exact = { data: 'x'.repeat(LIMIT - overhead) };
    expect(validatePublish(exact, LIMIT).ok).toBe(true);
    const over = { data: 'x'.repeat(LIMIT - overhead + 1) };
    expect(validatePublish(over, LIMIT)).toMatchObject({
      ok: false,
      error: { code: 'payload_too_large' },
    });
  });

  it('measures size in bytes, not characters', () => {
    const overhead = JSON.stringify({ data: '' }).length;
    // "é" is 2 bytes in UTF-8.
    const result = validatePublish({ data: 'é'.repeat(LIMIT - overhead) }, LIMIT);
    expect(result).toMatchObject({ ok: false, error: { code: 'payload_too_large' } });
  });

  it('sends `user: "alice"` to her user room', () => {
    expect(validatePublish({ user: 'alice', event: 'note', data: 1 }, LIMIT)).toEqual({
      ok: true,
      publish: { room: 'user:alice', event: 'note', data: 1 },
    });
  });

  it('keeps an idempotency key for a room or user message, and refuses one for everyone', () => {
    expect(
      validatePublish({ user: 'alice', data: 1, idempotencyKey: 'order-42:shipped' }, LIMIT),
    ).toEqual({
      ok: true,
      publish: {
        room: 'user:alice',
        event: 'message',
        data: 1,
        idempotencyKey: 'order-42:shipped',
      },
    });
    expect(validatePublish({ data: 1, idempotencyKey: 'k' }, LIMIT)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.BadRequest, message: expect.stringMatching(/at most once/) },
    });
    for (const idempotencyKey of ['', 'a b', 'é', 'k'.repeat(129), 42]) {
      expect(validatePublish({ room: 'r', data: 1, idempotencyKey }, LIMIT)).toMatchObject({
        ok: false,
        error: { code: ErrorCode.BadRequest },
      });
    }
  });

  it('never throws, and accepts only what the protocol allows (property)', () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              room: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
              user: fc.string(),
              event: fc.oneof(fc.string(), fc.constantFrom(...RESERVED_EVENT_NAMES)),
              data: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
        ),
        (input) => {
          const result = validatePublish(input, LIMIT);
          if (!result.ok) {
            expect(codes.has(result.error.code)).toBe(true);
            return;
          }
          const { room, event } = result.publish;
          if (room !== null) expect(room).toMatch(ROOM_NAME_PATTERN);
          expect(event).toMatch(EVENT_NAME_PATTERN);
          expect(RESERVED_EVENT_NAMES.has(event)).toBe(false);
          expect(JSON.stringify(input).length).toBeLessThanOrEqual(LIMIT);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
