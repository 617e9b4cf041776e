// Public surface of the clinical subsystem: unit handling, blood-volume formulas, ANH training
// labels and the study-population check.
export * from './anh.ts';
export * from './covariates.ts';
export * from './nadler.ts';
export * from './population.ts';
export * from './units.ts';
export * from './weight-based.ts';
