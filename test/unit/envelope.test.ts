import { describe, expect, it } from 'vitest';
import { createEnvelope } from '../../src/delivery/envelope.js';
import { roomKey } from '../../src/realtime/room-key.js';

describe('createEnvelope', () => {
  it('carries the payload, room, origin node and acceptance time', () => {
    const envelope = createEnvelope('node2', 'news', { headline: 'x' }, () => 1_700_000_000_000);
    expect(envelope).toEqual({
      id: expect.any(String),
      room: 'news',
      data: { headline: 'x' },
      node: 'node2',
      ts: 1_700_000_000_000,
    });
  });

  it('uses null for a message to everyone', () => {
    expect(createEnvelope('n', null, 1).room).toBeNull();
  });
});

describe('roomKey', () => {
  it('keeps subscriber rooms apart from Socket.IO socket-id rooms', () => {
    // Socket ids are base64url: they never contain ":".
    expect(roomKey('AbC_-123')).not.toBe('AbC_-123');
    expect(roomKey('AbC_-123')).toContain(':');
  });
});
