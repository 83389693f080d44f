import { backoffDelay } from '../client/backoff.js';
import {
  type ClusterOverview,
  ErrorCode,
  type HistoryPage,
  type PublishRequest,
} from '../protocol/index.js';
import {
  type AnswerClass,
  classifyAnswer,
  classifyFailure,
  errorOf,
  type Retryable,
} from './answer-class.js';
import type { PublishOutcome } from './publish-outcome.js';
import { PublisherError } from './publisher-error.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A key, or a function read at every request (to rotate keys without a new publisher). */
export type KeySource = string | (() => string);

/** Options of {@link PushPublisher}. */
export interface PushPublisherOptions {
  /** One of the cluster's `PUBLISH_API_KEYS` (for publish, history and presence). */
  apiKey: KeySource;
  /** The cluster's `ADMIN_API_KEY`, for {@link PushPublisher.cluster}. */
  adminKey?: KeySource;
  /** How long one call keeps trying while the outcome is unknown or the cluster busy (30 s). */
  retryForMs?: number;
  /** How long one HTTP request may take before it counts as unanswered (10 s). */
  requestTimeoutMs?: number;
  /** First and longest wait between attempts, before jitter (200 ms, 5 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Makes idempotency keys (`crypto.randomUUID` by default). */
  newIdempotencyKey?: () => string;
  /** The `fetch` to use (the global one by default). */
  fetch?: typeof fetch;
}

/** What {@link PushPublisher.publish} sends: a room, a user, or (neither) everyone. */
export type PublishMessage<T = unknown> = Omit<PublishRequest<T>, 'room'> & { room?: string };

/** Options of {@link PushPublisher.history}. */
export interface HistoryQuery {
  /** Messages after this offset (0: everything the history holds). */
  since?: number;
  /** The epoch `since` belongs to: `complete` is false when the room's epoch changed. */
  epoch?: string;
  /** At most this many (1–1000, default 100). */
  limit?: number;
}

/**
 * Publishes to a push cluster from a backend, safely: every room or user message carries an
 * idempotency key, and is sent again under it while its outcome is unknown (a node stopped with
 * the request, no answer) or the cluster is busy (429, 503: after `Retry-After`), so that it is
 * published exactly once; a refusal is never sent again. {@link publish} resolves to what
 * happened ({@link PublishOutcome}) instead of throwing. Also reads a room's history and presence
 * and the cluster overview.
 *
 * @example
 * const publisher = new PushPublisher('http://localhost:8080', { apiKey: process.env.PUSH_KEY });
 * const outcome = await publisher.publish({ room: 'orders', event: 'created', data: order });
 * if (outcome.status !== 'published') console.warn(outcome.status, outcome.error);
 */
export class PushPublisher {
  private readonly url: string;
  private readonly options: Required<Omit<PushPublisherOptions, 'adminKey'>> &
    Pick<PushPublisherOptions, 'adminKey'>;

  /** @param url - the cluster's address (nginx), e.g. `http://localhost:8080`. */
  constructor(url: string, options: PushPublisherOptions) {
    this.url = url.replace(/\/+$/, '');
    this.options = {
      retryForMs: 30_000,
      requestTimeoutMs: 10_000,
      backoffBaseMs: 200,
      backoffMaxMs: 5_000,
      newIdempotencyKey: () => globalThis.crypto.randomUUID(),
      fetch: globalThis.fetch.bind(globalThis),
      ...options,
    };
  }

  /**
   * Publishes `message` to its room, its user, or (neither given) everyone. A room or user
   * message gets an idempotency key (its own, if it brings one) and is retried until published,
   * refused, or `retryForMs` is over; a message to everyone is at most once: sent again only while
   * the cluster surely did not take it.
   */
  async publish<T>(message: PublishMessage<T>): Promise<PublishOutcome> {
    const keyed = message.room !== undefined || message.user !== undefined;
    const idempotencyKey = keyed
      ? (message.idempotencyKey ?? this.options.newIdempotencyKey())
      : undefined;
    const body = JSON.stringify(
      idempotencyKey === undefined ? message : { ...message, idempotencyKey },
    );
    const withKey = idempotencyKey === undefined ? {} : { idempotencyKey };
    const deadline = Date.now() + this.options.retryForMs;
    // Once an attempt's outcome was unknown, the message may be out: it is never "not published".
    let uncertain = false;
    for (let attempt = 1; ; attempt++) {
      const last = await this.send('/api/publish', this.options.apiKey, body);
      if (last.kind === 'accepted') {
        return { status: 'published', receipt: last.receipt, attempts: attempt, ...withKey };
      }
      if (last.kind === 'refused') {
        if (uncertain)
          return { status: 'unknown', error: last.error, attempts: attempt, ...withKey };
        const { error, httpStatus } = last;
        return { status: 'refused', error, httpStatus, attempts: attempt };
      }
      if (last.kind === 'unknown') {
        uncertain = true;
        // Without a key, sending it again could publish it twice.
        if (!keyed) return { status: 'unknown', error: last.error, attempts: attempt };
      }
      const wait = this.waitAfter(attempt, last);
      if (Date.now() + wait > deadline) {
        const status = uncertain ? 'unknown' : 'not_published';
        return { status, error: last.error, attempts: attempt, ...withKey };
      }
      await sleep(wait);
    }
  }

  /** A page of `room`'s history ({@link HistoryPage}); throws {@link PublisherError}. */
  history(room: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', String(query.since));
    if (query.epoch !== undefined) params.set('epoch', query.epoch);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const search = params.size > 0 ? `?${params}` : '';
    return this.read(
      `/api/rooms/${encodeURIComponent(room)}/history${search}`,
      this.options.apiKey,
    );
  }

  /** The users in a presence room, each once; throws {@link PublisherError}. */
  async presence(room: string): Promise<string[]> {
    const answer = await this.read<{ users: string[] }>(
      `/api/rooms/${encodeURIComponent(room)}/presence`,
      this.options.apiKey,
    );
    return answer.users;
  }

  /** The cluster overview (needs `adminKey`); throws {@link PublisherError}. */
  cluster(): Promise<ClusterOverview> {
    const key = this.options.adminKey;
    if (key === undefined) {
      return Promise.reject(
        new PublisherError(ErrorCode.Unauthorized, 'cluster() needs the adminKey option', 0),
      );
    }
    return this.read('/api/cluster', key);
  }

  /** A GET, tried again while busy or unanswered (reads are safe to repeat) until the deadline. */
  private async read<T>(path: string, key: KeySource): Promise<T> {
    const deadline = Date.now() + this.options.retryForMs;
    for (let attempt = 1; ; attempt++) {
      let failed: Retryable;
      let httpStatus = 0;
      try {
        const answer = await this.request('GET', path, key);
        const body: unknown = await answer.json().catch(() => undefined);
        if (answer.ok) return body as T;
        const kind = classifyAnswer(answer.status, answer.headers.get('retry-after'), body);
        if (kind.kind === 'accepted' || kind.kind === 'refused') {
          const error = errorOf(answer.status, body);
          throw new PublisherError(error.code, error.message, answer.status);
        }
        failed = kind;
        httpStatus = answer.status;
      } catch (failure) {
        if (failure instanceof PublisherError) throw failure;
        failed = classifyFailure(failure);
      }
      const wait = this.waitAfter(attempt, failed);
      if (Date.now() + wait > deadline) {
        throw new PublisherError(failed.error.code, failed.error.message, httpStatus);
      }
      await sleep(wait);
    }
  }

  /** How long to wait after attempt `attempt`: its backoff, or longer if the cluster said so. */
  private waitAfter(attempt: number, answer: Retryable): number {
    const backoff = backoffDelay(attempt, this.options.backoffBaseMs, this.options.backoffMaxMs);
    return Math.max(answer.retryAfterMs ?? 0, backoff);
  }

  /** One publish request, classified. */
  private async send(path: string, key: KeySource, body: string): Promise<AnswerClass> {
    try {
      const answer = await this.request('POST', path, key, body);
      const parsed: unknown = await answer.json().catch(() => undefined);
      return classifyAnswer(answer.status, answer.headers.get('retry-after'), parsed);
    } catch (failure) {
      return classifyFailure(failure);
    }
  }

  private request(method: string, path: string, key: KeySource, body?: string): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${typeof key === 'function' ? key() : key}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.options.fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs),
    });
  }
}
