export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.ts';
export {
  ESTIMATE_SCHEMA,
  ESTIMATE_SCHEMA_VERSION,
  estimateMessage,
  populationSummary,
  type EstimateMessage,
  type PopulationSummary,
  type Quantity,
  type SeriesQuantity,
  type ViewSummary,
} from './payload.ts';
export { OutboxPublisher, type DrainResult, type OutboxPublisherOptions } from './publisher.ts';
export {
  ESTIMATES_TOPIC,
  TRAINING_TOPIC,
  defaultTopicBase,
  estimatesTopic,
  trainingTopic,
} from './topics.ts';
export {
  TRAINING_SCHEMA,
  TRAINING_SCHEMA_VERSION,
  trainingRecordMessage,
  type TrainingRecordMessage,
} from './training.ts';
