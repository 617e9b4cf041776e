import { Hl7Context, Hl7Field, Hl7Message, Hl7Segment } from '@medplum/core';

import type { Hl7Code, Hl7Config, HierarchicDesignator } from '../config/hl7-schema.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { ViewName } from '../core/image.ts';
import type { ScanRecord } from '../scan/types.ts';
import { escapeHl7 } from './escape.ts';

/** Message profile id of IHE PCD-01 (Communicate PCD Data), sent in MSH-21. */
export const PCD01_PROFILE = ['IHE_PCD_001', 'IHE PCD', '1.3.6.1.4.1.19376.1.6.1.1.1', 'ISO'];
export const HL7_VERSION = '2.6';
export const MESSAGE_TYPE = ['ORU', 'R01', 'ORU_R01'];
/** MSH-18: the message text is UTF-8, so notices in any language travel unchanged. */
export const CHARACTER_SET = 'UNICODE UTF-8';

/** Units of the numeric observations as UCUM codes (unit^text^UCUM). */
const UCUM = {
  millilitre: ['mL', 'mL', 'UCUM'],
  millilitrePerKilogram: ['mL/kg', 'mL/kg', 'UCUM'],
};

/** HL7 table 0136 (Yes/No indicator), for the flag observations. */
const YES = ['Y', 'Yes', 'HL70136'];
const NO = ['N', 'No', 'HL70136'];

const VIEW_TEXT: Record<ViewName, string> = {
  ijv: 'Internal jugular vein',
  scv: 'Subclavian vein',
  ivc: 'Inferior vena cava',
  ca: 'Common carotid artery',
};

/** The settings of the hl7 config section that the message text depends on. */
export type MessageSettings = Pick<
  Hl7Config,
  | 'sendingApplication'
  | 'sendingFacility'
  | 'receivingApplication'
  | 'receivingFacility'
  | 'processingId'
  | 'pointOfCare'
  | 'codes'
>;

export interface ObservationMessageInput {
  record: ScanRecord;
  /** MSH-10, unique per message and kept for every retry of it. */
  controlId: string;
  createdAt: Date;
  /** Device name of the cart, sent as the equipment instance (OBX-18). */
  deviceName: string;
  /** True when the bundle is not clinically cleared: adds the research-use OBX and NTE. */
  researchUse: boolean;
  settings: MessageSettings;
}

/** One component: a value, or its subcomponents. Values are escaped when the field is built. */
type Component = string | readonly string[];

/**
 * Builds the ORU^R01 message of one estimate (IHE PCD-01). PID-3 is left empty, because the MRN
 * is stored apart from the message and put in by `withMrn` just before each send.
 */
export function buildObservationMessage(input: ObservationMessageInput): Hl7Message {
  const context = new Hl7Context();
  const build = new SegmentBuilder(context);
  const { record, settings } = input;
  const observedAt = hl7DateTime(new Date(record.createdAt));
  const segments = [
    build.msh(input),
    build.segment('PID', ['1'], [], []),
    ...(settings.pointOfCare ? [build.segment('PV1', ['1'], ['U'], [settings.pointOfCare])] : []),
    build.segment(
      'OBR',
      ['1'],
      [],
      [record.estimateId, settings.sendingApplication.namespaceId],
      codeComponents(settings.codes.panel),
      [],
      [],
      [observedAt],
      ...emptyFields(17),
      ['F'],
    ),
    ...(input.researchUse ? [build.segment('NTE', ['1'], ['L'], [researchNote(record)])] : []),
    ...observationSegments(build, input, observedAt),
  ];
  return new Hl7Message(segments, context);
}

/**
 * Returns `text` (a stored message) with the MRN in PID-3: ID number, assigning authority
 * (namespace id, or empty) and identifier type code MR.
 */
export function withMrn(text: string, mrn: string, assigningAuthority: string | undefined): string {
  const message = Hl7Message.parse(text);
  const pid = message.getSegment('PID');
  if (!pid) {
    throw new BvEdgeError('hl7_message_invalid', 'The stored HL7 message has no PID segment.');
  }
  const build = new SegmentBuilder(message.context);
  pid.setField(3, build.field(mrn, '', '', assigningAuthority ?? '', 'MR'));
  return message.toString();
}

/** Formats a time as an HL7 DTM in UTC with its offset, e.g. 20250131091500+0000. */
export function hl7DateTime(time: Date): string {
  const iso = time.toISOString();
  return `${iso.slice(0, 19).replace(/[-T:]/g, '')}+0000`;
}

/** One OBX: value type (OBX-2), code, values (repetitions of components), units, NTE notes. */
interface ObservationRow {
  type: 'NM' | 'ST' | 'CWE';
  code: Hl7Code;
  values: Component[][];
  units?: string[];
  notes?: readonly string[];
}

function observationSegments(
  build: SegmentBuilder,
  input: ObservationMessageInput,
  observedAt: string,
): Hl7Segment[] {
  const { record, settings, deviceName } = input;
  const { estimate } = record;
  const codes = settings.codes;
  const equipment = [deviceName, settings.sendingApplication.namespaceId];
  const rows: ObservationRow[] = [
    {
      type: 'NM',
      code: codes.bloodVolume,
      values: [[decimal(estimate.bvMl, 0)]],
      units: UCUM.millilitre,
    },
    {
      type: 'NM',
      code: codes.bloodVolumePerKg,
      values: [[decimal(estimate.bvMlPerKg, 1)]],
      units: UCUM.millilitrePerKilogram,
    },
    {
      type: 'NM',
      code: codes.intervalLower,
      values: [[decimal(estimate.lowerMl, 0)]],
      units: UCUM.millilitre,
    },
    {
      type: 'NM',
      code: codes.intervalUpper,
      values: [[decimal(estimate.upperMl, 0)]],
      units: UCUM.millilitre,
    },
    {
      type: 'NM',
      code: codes.nadler,
      values: [[decimal(estimate.nadlerMl, 0)]],
      units: UCUM.millilitre,
    },
    {
      type: 'CWE',
      code: codes.viewsUsed,
      values: record.views.map(({ view }) => [view, VIEW_TEXT[view], codes.viewsUsed.system]),
    },
    {
      type: 'ST',
      code: codes.modelVersion,
      values: [[`${estimate.modelName} ${estimate.modelVersion}`]],
    },
    { type: 'ST', code: codes.intendedUse, values: [[estimate.intendedUse]] },
    {
      type: 'CWE',
      code: codes.outOfPopulation,
      values: [estimate.population.inPopulation ? NO : YES],
      notes: estimate.population.reasons.map((reason) => reason.text),
    },
  ];
  if (input.researchUse) rows.push({ type: 'CWE', code: codes.researchUse, values: [YES] });

  const segments: Hl7Segment[] = [];
  rows.forEach((row, index) => {
    segments.push(
      build.segment(
        'OBX',
        [String(index + 1)],
        [row.type],
        codeComponents(row.code),
        [`1.1.1.${index + 1}`],
        build.repeated(row.values),
        row.units ?? [],
        ...emptyFields(4),
        ['F'],
        ...emptyFields(2),
        [observedAt],
        ...emptyFields(3),
        equipment,
      ),
    );
    (row.notes ?? []).forEach((note, n) => {
      segments.push(build.segment('NTE', [String(n + 1)], ['L'], [note]));
    });
  });
  return segments;
}

function researchNote(record: ScanRecord): string {
  const { intendedUse, notice } = record.estimate;
  return `Research use only, not for clinical decisions (model intended use: ${intendedUse}). ${notice}`;
}

/**
 * Builds segments and fields whose values are escaped for `context`. Each field argument is a
 * list of components, or an Hl7Field already built.
 */
class SegmentBuilder {
  constructor(private readonly context: Hl7Context) {}

  msh(input: ObservationMessageInput): Hl7Segment {
    const { settings } = input;
    const fields = [
      new Hl7Field([['MSH']], this.context),
      // MSH-2 contains the encoding characters themselves, so it is not escaped.
      new Hl7Field([[this.context.getMsh2()]], this.context),
      this.field(...hierarchicComponents(settings.sendingApplication)),
      this.field(...hierarchicComponents(settings.sendingFacility)),
      this.field(...hierarchicComponents(settings.receivingApplication)),
      this.field(...hierarchicComponents(settings.receivingFacility)),
      this.field(hl7DateTime(input.createdAt)),
      this.field(),
      this.field(...MESSAGE_TYPE),
      this.field(input.controlId),
      this.field(settings.processingId),
      this.field(HL7_VERSION),
      this.field(),
      this.field(),
      // MSH-15 AL: the receiver accepts every message with a commit ACK; MSH-16 NE: no
      // application ACK follows, as IHE PCD-01 requires of the device observation reporter.
      this.field('AL'),
      this.field('NE'),
      this.field(),
      this.field(CHARACTER_SET),
      this.field(),
      this.field(),
      this.field(...PCD01_PROFILE),
    ];
    return new Hl7Segment(fields, this.context);
  }

  segment(name: string, ...fields: (readonly Component[] | Hl7Field)[]): Hl7Segment {
    const built = fields.map((field) => (field instanceof Hl7Field ? field : this.field(...field)));
    return new Hl7Segment([new Hl7Field([[name]], this.context), ...built], this.context);
  }

  field(...components: readonly Component[]): Hl7Field {
    return new Hl7Field([this.components(components)], this.context);
  }

  repeated(repetitions: readonly (readonly Component[])[]): Hl7Field {
    return new Hl7Field(
      repetitions.map((components) => this.components(components)),
      this.context,
    );
  }

  /** Escapes each component and drops trailing empty ones, as HL7 encoding rules allow. */
  private components(components: readonly Component[]): string[] {
    const values = components.map((component) =>
      typeof component === 'string'
        ? escapeHl7(component, this.context)
        : component
            .map((part) => escapeHl7(part, this.context))
            .join(this.context.subcomponentSeparator),
    );
    while (values.length > 1 && values[values.length - 1] === '') values.pop();
    return values.length === 0 ? [''] : values;
  }
}

function emptyFields(count: number): (readonly Component[])[] {
  return Array.from({ length: count }, () => []);
}

function codeComponents(code: Hl7Code): string[] {
  return [code.code, code.text, code.system];
}

function hierarchicComponents(designator: HierarchicDesignator): string[] {
  return [designator.namespaceId, designator.universalId ?? '', designator.universalIdType ?? ''];
}

/** Formats an NM value with `digits` decimals; a non-finite value is an error. */
function decimal(value: number, digits: number): string {
  if (!Number.isFinite(value)) {
    throw new BvEdgeError(
      'hl7_value_invalid',
      `Cannot send the non-finite value ${value} as an HL7 number.`,
      { value },
    );
  }
  return value.toFixed(digits);
}
