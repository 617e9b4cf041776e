export { createHl7Api, MRN_PATTERN, type Hl7ApiOptions } from './routes.ts';
export {
  Hl7Service,
  UNPUSHED_MRN_RETENTION_HOURS,
  type Hl7ServiceOptions,
  type PushDecision,
} from './service.ts';
export {
  toHl7Summary,
  type CaseHl7Delivery,
  type CaseHl7State,
  type Hl7ErrorSummary,
  type Hl7State,
  type Hl7Status,
} from './status.ts';
