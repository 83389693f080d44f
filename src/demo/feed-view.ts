import type { Envelope } from '../client/index.js';
import { element } from './dom.js';

/** How many entries the feed keeps; older ones scroll away for good. */
const MAX_ENTRIES = 200;

/** What a chat message published by the demo carries. */
export interface ChatMessage {
  text: string;
  author: string;
}

/** The feed: messages (newest last) and notices about the connection. */
export class FeedView {
  constructor(private readonly list: HTMLOListElement) {}

  /** Appends a received message with its origin node, room and time. */
  message(event: string, envelope: Envelope): void {
    const chat = asChat(envelope.data);
    const time = new Date(envelope.ts);
    const meta = element(
      'span',
      { className: 'meta' },
      element('time', { text: time.toLocaleTimeString() }),
      element('span', { className: 'badge', text: envelope.node, data: { testid: 'origin' } }),
      element('span', {
        className: 'badge',
        text: envelope.room === null ? 'everyone' : `#${envelope.room}`,
      }),
      ...(event === 'chat' ? [] : [element('span', { className: 'badge', text: event })]),
    );
    meta.querySelector('time')?.setAttribute('datetime', time.toISOString());
    const body =
      chat === undefined
        ? [element('code', { className: 'text', text: JSON.stringify(envelope.data) })]
        : [
            element('span', { className: 'author', text: chat.author }),
            element('span', { className: 'text', text: chat.text }),
          ];
    this.append(
      element(
        'li',
        {
          className: 'message',
          data: {
            testid: 'message',
            id: envelope.id,
            room: envelope.room ?? '',
            origin: envelope.node,
            event,
          },
        },
        meta,
        ...body,
      ),
    );
  }

  /** Appends a line about the connection (connected, reconnecting, rejoined rooms…). */
  notice(text: string): void {
    this.append(element('li', { className: 'notice', text, data: { testid: 'notice' } }));
  }

  private append(item: HTMLLIElement): void {
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    this.list.append(item);
    while (this.list.children.length > MAX_ENTRIES) this.list.firstElementChild?.remove();
    if (atBottom) item.scrollIntoView({ block: 'end' });
  }
}

function asChat(data: unknown): ChatMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { text, author } = data as Record<string, unknown>;
  if (typeof text !== 'string' || typeof author !== 'string') return undefined;
  return { text, author };
}
