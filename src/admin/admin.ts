/**
 * The admin page (`/admin`): the cluster overview of `GET /api/cluster`, asked for every 2 s with
 * the admin credential typed in (kept for this tab only, in sessionStorage).
 */

import { byId, element } from '../demo/dom.js';
import type { ClusterOverview, NodeStatus } from '../protocol/index.js';

const REFRESH_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;
const STORAGE_KEY = 'push-cluster-admin-credential';

const form = byId('credential-form', HTMLFormElement);
const input = byId('credential', HTMLInputElement);
const signOut = byId('sign-out', HTMLButtonElement);
const error = byId('view-error', HTMLParagraphElement);
const dot = byId('view-dot', HTMLElement);
const viewState = byId('view-state', HTMLElement);
const answeredBy = byId('answered-by', HTMLElement);
const updatedAt = byId('updated-at', HTMLElement);
const partial = byId('partial', HTMLElement);
const problems = byId('problems', HTMLUListElement);
const nodes = byId('nodes', HTMLTableSectionElement);
const rooms = byId('rooms', HTMLTableSectionElement);
const roomsNote = byId('rooms-note', HTMLParagraphElement);

let credential = sessionStorage.getItem(STORAGE_KEY);
let timer: number | undefined;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  credential = input.value.trim();
  input.value = '';
  sessionStorage.setItem(STORAGE_KEY, credential);
  refresh();
});
signOut.addEventListener('click', () => stop('signed out', ''));

if (credential !== null) refresh();

/** Asks for the overview now, then every {@link REFRESH_MS} (one request at a time). */
async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  if (credential === null) return;
  form.hidden = true;
  signOut.hidden = false;
  let response: Response;
  try {
    response = await fetch('/api/cluster', {
      headers: { authorization: `Bearer ${credential}` },
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    show('reconnecting', 'unreachable', 'The cluster did not answer; trying again.');
    timer = window.setTimeout(refresh, REFRESH_MS);
    return;
  }
  if (response.status === 401 || response.status === 403 || response.status === 404) {
    stop('refused', await reason(response));
    return;
  }
  if (!response.ok) {
    show('reconnecting', `error ${response.status}`, await reason(response));
    timer = window.setTimeout(refresh, REFRESH_MS);
    return;
  }
  render((await response.json()) as ClusterOverview);
  timer = window.setTimeout(refresh, REFRESH_MS);
}

/** Stops asking and asks for a credential again. */
function stop(state: string, message: string): void {
  window.clearTimeout(timer);
  credential = null;
  sessionStorage.removeItem(STORAGE_KEY);
  form.hidden = false;
  signOut.hidden = true;
  show('disconnected', state, message);
  input.focus();
}

function show(dotState: string, state: string, message: string): void {
  dot.dataset.state = dotState;
  viewState.textContent = state;
  error.textContent = message;
}

/** The message of an error answer, `{ error: { code, message } }`, or its status. */
async function reason(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    return `${response.status} ${body.error?.code ?? ''}: ${body.error?.message ?? ''}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function render(overview: ClusterOverview): void {
  show('connected', overview.partial ? 'partial' : 'live', '');
  answeredBy.textContent = overview.node;
  updatedAt.textContent = new Date(overview.at).toLocaleTimeString();
  partial.hidden = !overview.partial;
  problems.replaceChildren(...overview.problems.map((text) => element('li', { text })));

  const { totals } = overview;
  setText('total-nodes', String(totals.nodes));
  setText('total-connections', String(totals.connections));
  setText('total-subscriptions', String(totals.subscriptions));
  setText('total-published', String(totals.rates.published));
  setText('total-delivered', String(totals.rates.delivered));

  nodes.replaceChildren(...overview.nodes.map((node) => nodeRow(node, overview.at)));
  rooms.replaceChildren(
    ...overview.rooms.map(({ room, members }) =>
      element(
        'tr',
        { data: { room } },
        element('td', { text: room }),
        element('td', { className: 'num', text: String(members), data: { members: '' } }),
      ),
    ),
  );
  roomsNote.textContent =
    overview.rooms.length === 0
      ? 'No room has subscribers.'
      : overview.roomsTruncated
        ? 'Only the largest rooms are listed.'
        : '';
}

function nodeRow(node: NodeStatus, now: number): HTMLTableRowElement {
  const state = node.stale ? 'stale' : node.state;
  const number = (value: number) => element('td', { className: 'num', text: String(value) });
  return element(
    'tr',
    { data: { node: node.node, stale: String(node.stale) } },
    element('td', { text: node.node }),
    element('td', { className: `state-${state}`, text: state.replace('_', ' ') }),
    element('td', { text: duration(now - node.startedAt) }),
    number(node.connections.total),
    number(node.connections.websocket),
    number(node.connections.polling),
    number(node.rooms),
    number(node.subscriptions),
    number(node.rates.published),
    number(node.rates.delivered),
    element('td', { className: 'num', text: `${(node.ageMs / 1000).toFixed(1)} s` }),
  );
}

function setText(id: string, text: string): void {
  byId(id, HTMLElement).textContent = text;
}

/** `3 d 4 h`, `2 h 5 min`, `7 min`, `12 s`. */
function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}
