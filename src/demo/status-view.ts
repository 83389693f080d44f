import type { ConnectionStatus } from '../client/index.js';

/** The connection line in the header: state, node, transport and identity. */
export class StatusView {
  constructor(
    private readonly dot: HTMLElement,
    private readonly state: HTMLElement,
    private readonly node: HTMLElement,
    private readonly transport: HTMLElement,
    private readonly user: HTMLElement,
  ) {}

  /** Shows `status`. */
  render(status: ConnectionStatus): void {
    this.dot.dataset.state = status.state;
    this.state.textContent =
      status.state === 'reconnecting' && status.attempt > 0
        ? `reconnecting (attempt ${status.attempt})`
        : status.state;
    this.node.textContent = status.node ?? '—';
    this.transport.textContent = status.transport ?? '—';
    this.user.textContent =
      status.user === null ? '—' : status.guest ? `${status.user} (guest)` : status.user;
  }
}
