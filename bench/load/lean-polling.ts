import { NodeXHR } from 'socket.io-client';
import { HttpLines } from './http-lines.js';

/** The worker's kept-alive connections, shared by its clients as an `http.Agent` would be. */
const lines = new HttpLines();

/**
 * HTTP long-polling for the load generator's simulated users: the same requests on the wire as
 * engine.io-client's Node.js transport (`NodeXHR`), sent over {@link HttpLines} instead of
 * through the `xmlhttprequest-ssl` polyfill and Node's `http` client, which together cost the
 * generator about four times the CPU per poll — more than the servers measured can spare in a
 * reconnect storm. It keeps what the benchmark uses (UTF-8 text payloads, kept-alive connections)
 * and leaves out what it does not: cookies, `extraHeaders`, `requestTimeout`, `agent`, TLS.
 *
 * Pass it where Socket.IO takes transports: `transports: [LeanPolling]`.
 */
export class LeanPolling extends NodeXHR {
  override doPoll(): void {
    lines.exchange(this.uri()).then(
      ({ status, text }) => {
        if (status === 200) this.onData(text);
        else this.onError('xhr poll error', status, text);
      },
      (error: unknown) => this.onError('xhr poll error', error),
    );
  }

  override doWrite(data: string, done: () => void): void {
    lines.exchange(this.uri(), data).then(
      ({ status, text }) => {
        if (status === 200) done();
        else this.onError('xhr post error', status, text);
      },
      (error: unknown) => this.onError('xhr post error', error),
    );
  }
}
