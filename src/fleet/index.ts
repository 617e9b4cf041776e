// Fleet management over MQTT: retained status and info, telemetry, events, and the request
// router that other subsystems extend with their own commands.
export { FleetAgent, fleetWill, type FleetAgentOptions } from './agent.ts';
export {
  RequestRouter,
  type RequestContext,
  type RequestHandler,
  type RouteOutcome,
} from './router.ts';
export { FLEET_EVENTS } from './events.ts';
export { DAEMON_VERSION, configHash, type ModelSource } from './info.ts';
export { LatencyRecorder, instrumentEngine, type LatencySummary } from './latency.ts';
export { LogRing } from './log-ring.ts';
export {
  EventPayload,
  InfoPayload,
  RequestEnvelope,
  ResponsePayload,
  StatusPayload,
  TelemetryPayload,
  findPatientIdentifier,
} from './payloads.ts';
export { FleetSchema, LOG_RING_LINES, type FleetSettings } from './settings.ts';
export {
  FLEET_TOPICS,
  fleetTopic,
  requestTopic,
  responseTopic,
  commandOfRequestTopic,
} from './topics.ts';
