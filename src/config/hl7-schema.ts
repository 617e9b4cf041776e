import { z } from 'zod';
import { optionalSetting, section, setting } from './describe.ts';

/**
 * Text that goes into one HL7 component as configured: printable, no control characters. HL7
 * delimiters are allowed because the message builder escapes them.
 */
const hl7Text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, 'expected printable text without control characters');

/** A coded element (CWE): identifier, display text and coding system. */
export interface Hl7Code {
  code: string;
  text: string;
  system: string;
}

/**
 * Local default codes. No LOINC or IEEE 11073 code exists for total blood volume, so every
 * observation uses the local coding system 99BVE; HL7 reserves names starting with 99 for local
 * tables. Sites whose interface engine maps codes set their own.
 */
export const DEFAULT_HL7_CODES = {
  panel: { code: '99BVE-PANEL', text: 'Ultrasound blood volume estimate', system: '99BVE' },
  bloodVolume: { code: '99BVE-BV', text: 'Total blood volume', system: '99BVE' },
  bloodVolumePerKg: { code: '99BVE-BVKG', text: 'Total blood volume per kg', system: '99BVE' },
  intervalLower: {
    code: '99BVE-BVLO',
    text: 'Total blood volume 95% interval lower limit',
    system: '99BVE',
  },
  intervalUpper: {
    code: '99BVE-BVHI',
    text: 'Total blood volume 95% interval upper limit',
    system: '99BVE',
  },
  nadler: { code: '99BVE-NADLER', text: 'Blood volume by Nadler formula', system: '99BVE' },
  viewsUsed: { code: '99BVE-VIEWS', text: 'Ultrasound views used', system: '99BVE' },
  modelVersion: { code: '99BVE-MODEL', text: 'Model bundle and version', system: '99BVE' },
  intendedUse: { code: '99BVE-USE', text: 'Model intended use', system: '99BVE' },
  outOfPopulation: {
    code: '99BVE-OOP',
    text: 'Patient outside model study population',
    system: '99BVE',
  },
  researchUse: { code: '99BVE-RESEARCH', text: 'Research use only', system: '99BVE' },
} as const satisfies Record<string, Hl7Code>;

const code = (key: keyof typeof DEFAULT_HL7_CODES, what: string) => {
  const defaults = DEFAULT_HL7_CODES[key];
  const schema = z.strictObject({
    code: setting(hl7Text(20), defaults.code, 'Identifier (CWE-1).'),
    text: setting(hl7Text(199), defaults.text, 'Display text (CWE-2).'),
    system: setting(
      hl7Text(20),
      defaults.system,
      'Coding system (CWE-3); names starting with 99 are local.',
    ),
  });
  return section(schema, `Code of ${what}.`);
};

const CodesSchema = z.strictObject({
  panel: code('panel', 'the observation request (OBR-4)'),
  bloodVolume: code('bloodVolume', 'the blood volume observation, mL'),
  bloodVolumePerKg: code('bloodVolumePerKg', 'the blood volume per kg observation, mL/kg'),
  intervalLower: code('intervalLower', 'the lower limit of the 95 % interval, mL'),
  intervalUpper: code('intervalUpper', 'the upper limit of the 95 % interval, mL'),
  nadler: code('nadler', "the Nadler prior (Nadler's formula for the same patient), mL"),
  viewsUsed: code('viewsUsed', 'the list of views that went into the estimate'),
  modelVersion: code('modelVersion', 'the model bundle name and version'),
  intendedUse: code('intendedUse', "the model bundle's intended use"),
  outOfPopulation: code('outOfPopulation', 'the out-of-population flag (Y or N)'),
  researchUse: code('researchUse', 'the research-use flag, sent only on research pushes'),
});

/** An application or facility (HD): namespace id, optional universal id and its type. */
export interface HierarchicDesignator {
  namespaceId: string;
  universalId?: string;
  universalIdType?: string;
}

const hd = (namespaceId: string, description: string) =>
  section(
    z.strictObject({
      namespaceId: setting(hl7Text(20), namespaceId, 'Namespace id (HD-1).'),
      universalId: optionalSetting(
        hl7Text(199),
        'Universal id (HD-2), e.g. an OID or an EUI-64.',
        '2.999.1',
      ),
      universalIdType: optionalSetting(
        hl7Text(6),
        'Type of the universal id (HD-3), e.g. ISO for an OID or EUI-64.',
        'ISO',
      ),
    }),
    description,
  );

const filePath = (what: string, example: string) =>
  optionalSetting(z.string().min(1), what, example);

const Hl7TlsSchema = z
  .strictObject({
    enabled: setting(z.boolean(), false, 'Connect to the receiver over TLS.'),
    caFile: filePath(
      'PEM file of the CA that signed the receiver certificate; left out, the system CAs.',
      '/etc/bv-edge/hl7-ca.pem',
    ),
    certFile: filePath(
      'PEM client certificate, for receivers that require one.',
      '/etc/bv-edge/hl7-client.pem',
    ),
    keyFile: filePath(
      'PEM private key of the client certificate; keep it mode 0600.',
      '/etc/bv-edge/hl7-client.key',
    ),
    serverName: optionalSetting(
      z.string().min(1),
      'Host name that the receiver certificate must name; left out, hl7.host.',
      'ais.hospital.example',
    ),
    rejectUnauthorized: setting(
      z.boolean(),
      true,
      'Reject a receiver certificate that the CA does not verify.',
    ),
  })
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
    message: 'certFile and keyFile go together: set both or neither',
    path: ['keyFile'],
  });

const RetrySchema = z.strictObject({
  initialDelayMs: setting(
    z.number().int().min(10).max(600_000),
    2000,
    'Wait before the first retry after a timeout, refused or lost connection or invalid reply, ms.',
  ),
  maxDelayMs: setting(
    z.number().int().min(10).max(3_600_000),
    300_000,
    'Cap of the retry wait, which doubles after each failed attempt, ms.',
  ),
});

/**
 * Push of each estimate to the anesthesia information system as an HL7 v2.6 ORU^R01 message
 * (IHE PCD-01) over MLLP.
 */
export const Hl7Schema = z
  .strictObject({
    enabled: setting(
      z.boolean(),
      false,
      'Push estimates to the anesthesia information system; needs host and port.',
    ),
    host: optionalSetting(
      z.string().min(1),
      'Host name or address of the MLLP receiver (interface engine or AIS). Required when enabled.',
      'ais-gateway.hospital.example',
    ),
    port: optionalSetting(
      z.number().int().min(1).max(65535),
      'TCP port of the MLLP receiver. Required when enabled.',
      2575,
    ),
    tls: section(Hl7TlsSchema, 'TLS to the MLLP receiver.'),
    connectTimeoutMs: setting(
      z.number().int().min(50).max(120_000),
      5000,
      'How long to wait for the TCP (and TLS) connection, ms.',
    ),
    ackTimeoutMs: setting(
      z.number().int().min(50).max(600_000),
      10_000,
      'How long to wait for the acknowledgement after sending a message, ms.',
    ),
    retry: section(RetrySchema, 'Retry timing of messages that got no acknowledgement.'),
    allowResearchPush: setting(
      z.boolean(),
      false,
      'Also push estimates of model bundles whose intended use is not clinical; such messages ' +
        'carry a research-use OBX and NTE. Off: only clinically cleared bundles are pushed.',
    ),
    mrnRetentionMinutes: setting(
      z.number().min(0).max(10_080),
      60,
      'Time the MRN entered for a case is kept after the acknowledgement of its message, ' +
        'minutes; 0 deletes it at once.',
    ),
    sendingApplication: hd('BV-EDGE', 'Sending application (MSH-3).'),
    sendingFacility: hd('BV-EDGE', 'Sending facility (MSH-4).'),
    receivingApplication: hd('AIS', 'Receiving application (MSH-5).'),
    receivingFacility: hd('HOSPITAL', 'Receiving facility (MSH-6).'),
    processingId: setting(
      z.enum(['P', 'D', 'T']),
      'P',
      'Processing id (MSH-11): P production, D debugging, T training.',
    ),
    mrnAssigningAuthority: optionalSetting(
      hl7Text(20),
      'Assigning authority of the MRN, namespace id (PID-3.4); left out, empty.',
      'HOSPITAL',
    ),
    pointOfCare: optionalSetting(
      hl7Text(20),
      'Point of care of the cart, e.g. the operating room (PV1-3.1); left out, no PV1 segment.',
      'OR-3',
    ),
    codes: section(CodesSchema, 'Codes of the request and of each observation.'),
  })
  .superRefine((hl7, context) => {
    if (!hl7.enabled) return;
    for (const key of ['host', 'port'] as const) {
      if (hl7[key] === undefined) {
        context.addIssue({
          code: 'custom',
          path: [key],
          input: undefined,
          message: `hl7.${key} is required when hl7.enabled is true`,
        });
      }
    }
  })
  .refine((hl7) => hl7.retry.maxDelayMs >= hl7.retry.initialDelayMs, {
    message: 'retry.maxDelayMs must be at least retry.initialDelayMs',
    path: ['retry', 'maxDelayMs'],
  });
export type Hl7Config = z.infer<typeof Hl7Schema>;
