import { type Agent, request } from 'node:http';
import { NodeXHR } from 'socket.io-client';

/**
 * HTTP long-polling for the load generator's simulated users: the same requests on the wire as
 * engine.io-client's Node.js transport (`NodeXHR`), sent with `http.request` itself instead of
 * through the `xmlhttprequest-ssl` polyfill, which costs the generator about twice the CPU per
 * poll and more than the servers measured can spare in a reconnect storm. It keeps what the
 * benchmark uses (the `agent` option, UTF-8 text payloads) and leaves out what it does not: cookies,
 * `extraHeaders`, `requestTimeout`, TLS options.
 *
 * Pass it where Socket.IO takes transports: `transports: [LeanPolling]`.
 */
export class LeanPolling extends NodeXHR {
  override doPoll(): void {
    this.exchange('GET', undefined, (body) => this.onData(body), 'xhr poll error');
  }

  override doWrite(data: string, done: () => void): void {
    this.exchange('POST', data, done, 'xhr post error');
  }

  private exchange(
    method: 'GET' | 'POST',
    body: string | undefined,
    done: (text: string) => void,
    failure: string,
  ): void {
    const headers =
      body === undefined
        ? {}
        : {
            'content-type': 'text/plain;charset=UTF-8',
            'content-length': Buffer.byteLength(body),
          };
    const agent = (this.opts as { agent?: Agent | boolean }).agent;
    const req = request(
      this.uri(),
      { method, headers, ...(typeof agent === 'object' ? { agent } : {}) },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          if (response.statusCode === 200) done(text);
          else this.onError(failure, response.statusCode, text);
        });
        response.on('error', (error) => this.onError(failure, error));
      },
    );
    req.on('error', (error) => this.onError(failure, error));
    req.end(body);
  }
}
