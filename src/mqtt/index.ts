export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.ts';
export {
  ESTIMATE_SCHEMA,
  ESTIMATE_SCHEMA_VERSION,
  estimateMessage,
  type EstimateMessage,
  type Quantity,
  type SeriesQuantity,
  type ViewSummary,
} from './payload.ts';
export { OutboxPublisher, type DrainResult, type OutboxPublisherOptions } from './publisher.ts';
export { ESTIMATES_TOPIC, defaultTopicBase, estimatesTopic } from './topics.ts';
