import { redactPassword, type DrainResult } from '../mqtt/publisher.ts';
import { OUT_OF_POPULATION_FLAG } from '../clinical/population.ts';
import type { PopulationFlag, ScanRecord, ViewResult } from './types.ts';

/** Formats a finished scan for a terminal: the estimate first, then each view. */
export function formatScanReport(record: ScanRecord, delivery: DrainResult, brokerUrl: string) {
  const { estimate } = record;
  const lines = [
    `Case ${record.caseId}`,
    `Blood volume estimate: ${round(estimate.bvMl)} mL (${estimate.bvMlPerKg.toFixed(1)} mL/kg), ` +
      `95 % interval ${round(estimate.lowerMl)}–${round(estimate.upperMl)} mL`,
    `Nadler formula:        ${round(estimate.nadlerMl)} mL`,
    populationLine(estimate.population),
    `Model: ${estimate.modelName} ${estimate.modelVersion} (${estimate.intendedUse}) on ` +
      `${estimate.executionProvider}. ${estimate.notice}`,
    '',
    ...record.views.map(formatView),
    '',
    deliveryLine(delivery, brokerUrl),
  ];
  return lines.join('\n');
}

/** States the flag in the words every estimate and training record uses for it. */
export function populationLine(population: PopulationFlag): string {
  if (population.inPopulation) return 'Study population: within the inclusion criteria';
  const reasons = population.reasons.map((reason) => reason.text).join('; ');
  return `Study population: ${OUT_OF_POPULATION_FLAG} (${reasons})`;
}

function formatView(view: ViewResult): string {
  const m = view.measurements;
  const parts = [
    `${view.view.toUpperCase().padEnd(3)} ${view.source}: area ${m.areaMm2.mean.toFixed(1)} mm² ` +
      `(${m.areaMm2.min.toFixed(1)}–${m.areaMm2.max.toFixed(1)}), AP diameter ` +
      `${m.apDiameterMm.min.toFixed(1)}–${m.apDiameterMm.max.toFixed(1)} mm`,
  ];
  if (m.collapsibilityIndex !== undefined) {
    parts.push(`collapsibility ${(m.collapsibilityIndex * 100).toFixed(0)} %`);
  }
  if (m.pulsatilityIndex !== undefined) parts.push(`pulsatility ${m.pulsatilityIndex.toFixed(2)}`);
  if (m.heartRateBpm !== undefined) parts.push(`heart rate ${m.heartRateBpm.toFixed(0)} /min`);
  parts.push(
    `tracked ${(m.trackedFraction * 100).toFixed(0)} % of ${view.frameCount} frames, ` +
      `seed ${view.seed.x.toFixed(0)},${view.seed.y.toFixed(0)}${view.seeded ? '' : ' (found)'}`,
  );
  return parts.join(', ');
}

/** States whether the queued MQTT messages reached the broker. */
export function deliveryLine(delivery: DrainResult, rawBrokerUrl: string): string {
  const brokerUrl = redactPassword(rawBrokerUrl);
  if (delivery.pending === 0) return `Published to MQTT broker ${brokerUrl}.`;
  const reason = delivery.connected ? 'not yet acknowledged' : 'broker not reachable';
  return (
    `Queued for MQTT: ${delivery.pending} message(s) wait in the outbox (${reason} at ` +
    `${brokerUrl}); the next bv-edge run that reaches the broker sends them.`
  );
}

function round(value: number): string {
  return Math.round(value).toString();
}
