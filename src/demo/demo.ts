import {
  type ConnectionStatus,
  PushClient,
  PushError,
  type StatusChange,
  type TransportName,
} from '../client/index.js';
import { byId, element } from './dom.js';
import { type ChatMessage, FeedView } from './feed-view.js';
import { StatusView } from './status-view.js';

/** The demo's own event: a chat line. Anything else published is shown as JSON. */
type DemoEvents = { chat: ChatMessage };

const TRANSPORTS: Record<string, TransportName[]> = {
  auto: ['websocket', 'polling'],
  polling: ['polling'],
  websocket: ['websocket'],
};
const DEFAULT_ROOM = 'lobby';

const params = new URLSearchParams(location.search);
const transportChoice = params.get('transport') ?? 'auto';
const client = new PushClient<DemoEvents>(undefined, {
  transports: TRANSPORTS[transportChoice] ?? TRANSPORTS.auto,
});

const feed = new FeedView(byId('feed', HTMLOListElement));
const status = new StatusView(
  byId('status-dot', HTMLElement),
  byId('status-state', HTMLElement),
  byId('status-node', HTMLElement),
  byId('status-transport', HTMLElement),
  byId('status-user', HTMLElement),
);
const roomList = byId('room-list', HTMLUListElement);
const roomsEmpty = byId('rooms-empty', HTMLParagraphElement);
const guestHint = byId('guest-hint', HTMLParagraphElement);
const target = byId('target', HTMLSelectElement);
const roomInput = byId('room-input', HTMLInputElement);
const messageInput = byId('message-input', HTMLInputElement);
const nameInput = byId('name-input', HTMLInputElement);
const formError = byId('form-error', HTMLParagraphElement);
const transportSelect = byId('transport', HTMLSelectElement);

nameInput.value = localStorage.getItem('push-demo-name') ?? `guest-${randomSuffix()}`;
nameInput.addEventListener('change', () => localStorage.setItem('push-demo-name', nameInput.value));
transportSelect.value = transportChoice in TRANSPORTS ? transportChoice : 'auto';
transportSelect.addEventListener('change', () => {
  const next = new URL(location.href);
  if (transportSelect.value === 'auto') next.searchParams.delete('transport');
  else next.searchParams.set('transport', transportSelect.value);
  location.assign(next);
});

client.onStatus((snapshot, change) => {
  status.render(snapshot);
  const line = narrate(change, snapshot);
  if (line !== undefined) feed.notice(line);
});
client.onAny((event, envelope) => feed.message(event, envelope));

byId('join-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  void join(room).then((joined) => {
    if (joined) roomInput.value = '';
  });
});

byId('send-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  const text = messageInput.value.trim();
  if (text === '') return;
  const room = target.value === '' ? null : target.value;
  showError(undefined);
  client
    .publish({ room, event: 'chat', data: { text, author: nameInput.value.trim() || 'anonymous' } })
    .then(() => {
      messageInput.value = '';
    })
    .catch((error: unknown) => showError(error));
});

void join(DEFAULT_ROOM);

async function join(room: string): Promise<boolean> {
  showError(undefined);
  try {
    await client.subscribe(room);
  } catch (error) {
    showError(error);
    return false;
  }
  renderRooms();
  target.value = room;
  feed.notice(`Joined #${room}.`);
  return true;
}

async function leave(room: string): Promise<void> {
  showError(undefined);
  try {
    await client.unsubscribe(room);
    feed.notice(`Left #${room}.`);
  } catch (error) {
    showError(error);
  }
  renderRooms();
}

function renderRooms(): void {
  const rooms = [...client.rooms].sort();
  roomList.replaceChildren(
    ...rooms.map((room) => {
      const button = element('button', { className: 'secondary', text: 'Leave' });
      button.type = 'button';
      button.setAttribute('aria-label', `Leave ${room}`);
      button.addEventListener('click', () => void leave(room));
      return element('li', { data: { room } }, element('span', { text: `#${room}` }), button);
    }),
  );
  roomsEmpty.hidden = rooms.length > 0;
  const selected = target.value;
  // Guests may not publish to everyone: the option is only offered to token holders.
  const { guest } = client.status;
  guestHint.hidden = !guest;
  const everyone = guest ? [] : [element('option', { text: 'everyone' })];
  target.replaceChildren(
    ...everyone,
    ...rooms.map((room) => element('option', { text: `#${room}` })),
  );
  const values = [...(guest ? [] : ['']), ...rooms];
  [...target.options].forEach((option, index) => {
    option.value = values[index] ?? '';
  });
  target.value = values.includes(selected) ? selected : (values[0] ?? '');
}

function narrate(change: StatusChange, snapshot: ConnectionStatus): string | undefined {
  switch (change.kind) {
    case 'connected':
      renderRooms();
      return change.reconnected
        ? `Reconnected through the load balancer, now on ${change.node} over ${snapshot.transport}.`
        : `Connected to ${change.node} over ${snapshot.transport}.`;
    case 'transport':
      // An upgrade that completes before the welcome is told by the "Connected" line.
      return snapshot.state === 'connected' ? `Upgraded to ${change.transport}.` : undefined;
    case 'disconnected':
      return `Connection lost (${change.reason}).`;
    case 'reconnecting':
      return change.attempt === 1 ? 'Reconnecting…' : undefined;
    case 'connect_error':
      return change.code === null ? undefined : `Refused: ${change.code} (${change.reason}).`;
    case 'goodbye':
      return `The node is closing the connection: ${change.code} (${change.reason}).`;
    case 'token_refreshed':
      return change.ok ? undefined : `Could not refresh the token (${change.reason}).`;
    case 'resubscribed':
      renderRooms();
      return [
        `Rejoined ${describeRooms(change.rooms)}.`,
        change.recovered.length > 0
          ? `Caught up on what ${describeRooms(change.recovered)} sent meanwhile.`
          : '',
        change.notRecovered.length > 0
          ? `The history of ${describeRooms(change.notRecovered)} no longer reaches back: messages may be missing.`
          : '',
        change.failed.length > 0 ? `Could not rejoin ${describeRooms(change.failed)}.` : '',
      ]
        .filter((line) => line !== '')
        .join(' ');
    case 'gap':
      if (change.cause === 'epoch') {
        return `The history of #${change.room} started afresh: earlier messages may be missing.`;
      }
      return change.recovered
        ? `Caught up on messages of #${change.room} that had been skipped.`
        : `Messages of #${change.room} were skipped and are no longer in its history.`;
    case 'unsubscribed':
      renderRooms();
      return `Left #${change.room}: ${change.code} (${change.reason}).`;
    case 'closed':
      return 'Closed.';
  }
}

function describeRooms(rooms: string[]): string {
  return rooms.length === 0 ? 'no rooms' : rooms.map((room) => `#${room}`).join(', ');
}

function showError(error: unknown): void {
  if (error === undefined) {
    formError.textContent = '';
  } else if (error instanceof PushError) {
    formError.textContent = `${error.code}: ${error.message}`;
  } else {
    formError.textContent = String(error);
  }
}

function randomSuffix(): string {
  return Math.floor(Math.random() * 10_000)
    .toString()
    .padStart(4, '0');
}
