import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guestIdentities } from '../../src/auth/guest.js';
import type { Identity } from '../../src/auth/identity.js';
import { compileRoomPatterns, isRoomPattern, NO_ROOMS } from '../../src/auth/room-pattern.js';
import { canPublish, canSubscribe, roomKind, userRoom } from '../../src/auth/room-policy.js';

/** Room names as the protocol allows them: 1–128 of `[A-Za-z0-9:_.-]`. */
const roomChar = fc.constantFrom(...'abcXYZ019:_.-'.split(''));
const roomName = fc.string({ unit: roomChar, minLength: 1, maxLength: 40 });
const userId = fc.string({
  unit: fc.constantFrom(...'abcXYZ019_.-'.split('')),
  minLength: 1,
  maxLength: 20,
});

function user(id: string, grants: { rooms?: string[]; publish?: string[] } = {}): Identity {
  return {
    userId: id,
    guest: false,
    rooms: compileRoomPatterns(grants.rooms ?? []),
    publish: compileRoomPatterns(grants.publish ?? []),
    plainRooms: undefined,
    expiresAt: Date.now() + 60_000,
    admin: false,
  };
}

describe('room patterns', () => {
  it.each([
    ['lobby', 'lobby', true],
    ['lobby', 'lobby2', false],
    ['chat:*', 'chat:1', true],
    ['chat:*', 'chat:', true],
    ['chat:*', 'chatroom', false],
    ['*', 'anything:at-all', true],
    ['private:team-*', 'private:team-1', true],
    ['private:team-*', 'private:other', false],
  ])('%s matches %s: %s', (pattern, room, expected) => {
    expect(compileRoomPatterns([pattern]).matches(room)).toBe(expected);
  });

  it('an exact pattern matches exactly that room (property)', () => {
    fc.assert(
      fc.property(roomName, roomName, (pattern, room) => {
        expect(compileRoomPatterns([pattern]).matches(room)).toBe(pattern === room);
      }),
    );
  });

  it('a prefix pattern matches exactly the rooms that start with the prefix (property)', () => {
    fc.assert(
      fc.property(roomName, roomName, (prefix, room) => {
        expect(compileRoomPatterns([`${prefix}*`]).matches(room)).toBe(room.startsWith(prefix));
      }),
    );
  });

  it('a set of patterns matches what any one of them matches (property)', () => {
    const pattern = fc.oneof(
      roomName,
      roomName.map((p) => `${p}*`),
      fc.constant('*'),
    );
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), roomName, (patterns, room) => {
        const any = patterns.some((p) => compileRoomPatterns([p]).matches(room));
        expect(compileRoomPatterns(patterns).matches(room)).toBe(any);
      }),
    );
  });

  it('accepts only well-formed patterns', () => {
    for (const good of ['lobby', 'chat:*', '*', 'a']) expect(isRoomPattern(good), good).toBe(true);
    for (const bad of ['', 'a*b', '**', 'has space', '*x', 'x'.repeat(129), 7, null]) {
      expect(isRoomPattern(bad), String(bad)).toBe(false);
    }
    fc.assert(
      fc.property(fc.string(), (value) => {
        // Never throws; a pattern never contains "*" anywhere but at its end.
        if (isRoomPattern(value)) expect(value.slice(0, -1)).not.toContain('*');
      }),
    );
  });

  it('matches nothing when empty', () => {
    fc.assert(
      fc.property(roomName, (room) => {
        expect(NO_ROOMS.matches(room)).toBe(false);
      }),
    );
  });
});

describe('room policy', () => {
  it('classifies rooms by prefix', () => {
    expect(roomKind('private:x')).toBe('private');
    expect(roomKind('user:alice')).toBe('user');
    expect(roomKind('lobby')).toBe('plain');
    expect(roomKind('privatex')).toBe('plain');
  });

  it('lets any user subscribe to plain rooms, never to private ones without a grant (property)', () => {
    fc.assert(
      fc.property(userId, roomName, (id, name) => {
        const plain = name.startsWith('private:') || name.startsWith('user:') ? `x${name}` : name;
        expect(canSubscribe(user(id), plain)).toBe(true);
        expect(canSubscribe(user(id), `private:${name}`)).toBe(false);
        expect(canSubscribe(user(id, { rooms: [`private:${name}`] }), `private:${name}`)).toBe(
          true,
        );
      }),
    );
  });

  it('lets a user into its own user room only, whatever its grants (property)', () => {
    fc.assert(
      fc.property(userId, userId, (me, other) => {
        const greedy = user(me, { rooms: ['*'], publish: ['*'] });
        expect(canSubscribe(greedy, userRoom(me))).toBe(true);
        expect(canSubscribe(greedy, userRoom(other))).toBe(me === other);
      }),
    );
  });

  it('lets a user publish where its publish claim matches, to everyone only with "*"', () => {
    const writer = user('w', { publish: ['chat:*'] });
    expect(canPublish(writer, 'chat:1')).toBe(true);
    expect(canPublish(writer, 'news')).toBe(false);
    expect(canPublish(writer, null)).toBe(false);
    expect(canPublish(user('w', { publish: ['*'] }), null)).toBe(true);
    expect(canPublish(user('r'), 'chat:1')).toBe(false);
  });

  it('keeps guests out of private and user rooms and off everyone, whatever GUEST_* say (property)', () => {
    fc.assert(
      fc.property(roomName, (name) => {
        const guest = guestIdentities({ guestRooms: ['*'], guestPublish: ['*'] })();
        expect(guest.guest).toBe(true);
        expect(guest.userId).toMatch(/^guest-[A-Za-z0-9_-]{12}$/);
        expect(canSubscribe(guest, `private:${name}`)).toBe(false);
        expect(canSubscribe(guest, `user:${name}`)).toBe(false);
        expect(canSubscribe(guest, userRoom(guest.userId))).toBe(false);
        expect(canPublish(guest, `private:${name}`)).toBe(false);
        expect(canPublish(guest, `user:${name}`)).toBe(false);
        expect(canPublish(guest, null)).toBe(false);
      }),
    );
  });

  it('limits guests to GUEST_ROOMS and GUEST_PUBLISH among plain rooms', () => {
    const guest = guestIdentities({ guestRooms: ['lobby', 'news:*'], guestPublish: ['lobby'] })();
    expect(canSubscribe(guest, 'lobby')).toBe(true);
    expect(canSubscribe(guest, 'news:today')).toBe(true);
    expect(canSubscribe(guest, 'chat')).toBe(false);
    expect(canPublish(guest, 'lobby')).toBe(true);
    expect(canPublish(guest, 'news:today')).toBe(false);
  });
});
