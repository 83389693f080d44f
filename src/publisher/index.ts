/**
 * Publishing to the push cluster from a backend (Node.js): {@link PushPublisher} sends each room
 * or user message exactly once over the HTTP API, whatever the cluster goes through.
 */

export type { ClusterOverview, HistoryPage, PublishReceipt } from '../protocol/index.js';
export type { PublishOutcome } from './publish-outcome.js';
export { PublisherError } from './publisher-error.js';
export {
  type HistoryQuery,
  type KeySource,
  type PublishMessage,
  PushPublisher,
  type PushPublisherOptions,
} from './push-publisher.js';
