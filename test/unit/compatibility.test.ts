/**
 * The compatibility rules, one row per change kind, checked under all eight Glue modes. Each row
 * states which direction the change breaks (with the message that says why) and cites the rule's
 * source; the mode table below says which directions a mode checks. Sources:
 * - [glue] AWS Glue API, CreateSchema `Compatibility` (modes NONE ... FULL_ALL).
 * - [glue#172] awslabs/aws-glue-schema-registry#172: Glue FULL rejects adding an optional field (JSON).
 * - [cf#1458] confluentinc/schema-registry#1458 (and #1529): adding an optional property to an OPEN
 *   schema is not backward compatible (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL); to a closed one it is.
 * - [cf#2121] confluentinc/schema-registry#2121: removing a property from an open schema is not
 *   forward compatible.
 * - [cf-diff] confluentinc/schema-registry json-schema-provider `json/diff/*SchemaDiff.java`:
 *   Difference types and COMPATIBLE_CHANGES (backward); forward = the same check with the versions swapped.
 * - [cf#1490] rayokota in confluentinc/schema-registry#1490: backward = every document valid under the
 *   previous schema is valid under the new one; forward = the other way round.
 */
import { describe, expect, it } from 'vitest';
import {
  checkHistory,
  checkNewVersion,
  type VersionedSchema,
} from '../../schemas/compatibility/compatibility.js';
import { contractJsonSchemas, type ObjectJsonSchema } from '../../schemas/compatibility/json-schema.js';
import type { CompatibilityMode } from '../../schemas/contract.js';
import { compatibilityModes } from '../../schemas/contract.js';
import { transaction } from '../../schemas/transaction.contract.js';

type Props = Record<string, Record<string, unknown>>;
const closed = (properties: Props, required: string[] = Object.keys(properties)): ObjectJsonSchema => ({
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const open = (properties: Props, required: string[] = Object.keys(properties)): ObjectJsonSchema => ({
  type: 'object',
  properties,
  required,
});

const id = { type: 'string' };
const channel = (...values: string[]) => ({ type: 'string', enum: values });

interface Rule {
  readonly change: string;
  readonly older: ObjectJsonSchema;
  readonly newer: ObjectJsonSchema;
  /** Why v1 data fails v2 (BACKWARD breaks), or null when it does not. */
  readonly backward: string | null;
  /** Why v2 data fails v1 (FORWARD breaks), or null when it does not. */
  readonly forward: string | null;
}

const rules: Rule[] = [
  // [cf-diff] OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL is compatible; swapped it is
  // PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL. [glue#172]: so FULL rejects it, as Glue does.
  {
    change: 'an optional field added to a closed object',
    older: closed({ id }),
    newer: closed({ id, mcc: { type: 'string' } }, ['id']),
    backward: null,
    forward: 'v1 is closed and does not declare "mcc", so it rejects v2 data carrying it',
  },
  // [cf#1458] PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: v1 data may already carry the field with any value.
  {
    change: 'an optional field added to an open object',
    older: open({ id }),
    newer: open({ id, mcc: { type: 'string' } }, ['id']),
    backward: 'v1 is open, so v1 data may already carry "mcc" with a value v2 rejects',
    forward: null,
  },
  // [cf-diff] REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL (backward); swapped, a closed v1 rejects it.
  {
    change: 'a required field added to a closed object',
    older: closed({ id }),
    newer: closed({ id, mcc: { type: 'string' } }),
    backward: 'v1 data need not carry "mcc", which v2 requires',
    forward: 'v1 is closed and does not declare "mcc", so it rejects v2 data carrying it',
  },
  // [cf-diff] PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL is incompatible; swapped, an optional
  // property added to a closed model is compatible.
  {
    change: 'an optional field removed from a closed object',
    older: closed({ id, mcc: { type: 'string' } }, ['id']),
    newer: closed({ id }),
    backward: 'v2 is closed and no longer declares "mcc", so v1 data carrying it is rejected',
    forward: null,
  },
  // [cf-diff] as above, and swapped REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL.
  {
    change: 'a required field removed from a closed object',
    older: closed({ id, mcc: { type: 'string' } }),
    newer: closed({ id }),
    backward: 'v2 is closed and no longer declares "mcc", so v1 data carrying it is rejected',
    forward: 'v1 requires "mcc", which v2 data need not carry',
  },
  // [cf-diff] PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL is compatible; [cf#2121] not forward.
  {
    change: 'an optional field removed from an open object',
    older: open({ id, mcc: { type: 'string' } }, ['id']),
    newer: open({ id }),
    backward: null,
    forward: 'v2 is open, so v2 data may carry "mcc" with a value v1 rejects',
  },
  // [cf-diff] REQUIRED_ATTRIBUTE_ADDED is incompatible.
  {
    change: 'an optional field made required',
    older: closed({ id, mcc: { type: 'string' } }, ['id']),
    newer: closed({ id, mcc: { type: 'string' } }),
    backward: 'v1 data may omit "mcc", which v2 requires',
    forward: null,
  },
  // [cf-diff] REQUIRED_ATTRIBUTE_REMOVED is compatible; swapped it is REQUIRED_ATTRIBUTE_ADDED.
  {
    change: 'a required field made optional',
    older: closed({ id, mcc: { type: 'string' } }),
    newer: closed({ id, mcc: { type: 'string' } }, ['id']),
    backward: null,
    forward: 'v2 data may omit "mcc", which v1 requires',
  },
  // [cf-diff] TYPE_CHANGED.
  {
    change: 'a field type changed from string to integer',
    older: closed({ id, amount: { type: 'string' } }),
    newer: closed({ id, amount: { type: 'integer' } }),
    backward: 'v1 accepts string values, which v2 rejects',
    forward: 'v2 accepts integer values, which v1 rejects',
  },
  // [cf-diff] NumberSchemaDiff: TYPE_NARROWED (number -> integer) is incompatible.
  {
    change: 'a field type narrowed from number to integer',
    older: closed({ id, amount: { type: 'number' } }),
    newer: closed({ id, amount: { type: 'integer' } }),
    backward: 'v1 accepts number values, which v2 rejects',
    forward: null,
  },
  // [cf-diff] TYPE_EXTENDED is compatible.
  {
    change: 'a field type widened from integer to number',
    older: closed({ id, amount: { type: 'integer' } }),
    newer: closed({ id, amount: { type: 'number' } }),
    backward: null,
    forward: 'v2 accepts number values, which v1 rejects',
  },
  // [cf-diff] a union that extends the type (SUM_TYPE_EXTENDED) is compatible.
  {
    change: 'a field made nullable',
    older: closed({ id, mcc: { type: 'string' } }),
    newer: closed({ id, mcc: { type: ['string', 'null'] } }),
    backward: null,
    forward: 'v2 accepts null values, which v1 rejects',
  },
  // [cf-diff] ENUM_ARRAY_NARROWED is incompatible.
  {
    change: 'an enum value removed',
    older: closed({ id, channel: channel('pos', 'atm') }),
    newer: closed({ id, channel: channel('pos') }),
    backward: 'v1 data may carry "atm", which v2 rejects',
    forward: null,
  },
  // [cf-diff] ENUM_ARRAY_EXTENDED is compatible.
  {
    change: 'an enum value added',
    older: closed({ id, channel: channel('pos') }),
    newer: closed({ id, channel: channel('pos', 'wallet') }),
    backward: null,
    forward: 'v2 data may carry "wallet", which v1 rejects',
  },
  // [cf#1490] restricting a free string to a list rejects documents v1 accepted.
  {
    change: 'a free field restricted to an enum',
    older: closed({ id, channel: { type: 'string' } }),
    newer: closed({ id, channel: channel('pos') }),
    backward: 'v1 accepts other values, which v2 rejects',
    forward: null,
  },
  // [cf-diff] PATTERN_ADDED is incompatible.
  {
    change: 'a pattern added',
    older: closed({ id, mcc: { type: 'string' } }),
    newer: closed({ id, mcc: { type: 'string', pattern: '^\\d{4}$' } }),
    backward: 'v1 values need not match pattern "^\\\\d{4}$", which v2 requires',
    forward: null,
  },
  // [cf-diff] PATTERN_REMOVED is compatible.
  {
    change: 'a pattern removed',
    older: closed({ id, mcc: { type: 'string', pattern: '^\\d{4}$' } }),
    newer: closed({ id, mcc: { type: 'string' } }),
    backward: null,
    forward: 'v2 values need not match pattern "^\\\\d{4}$", which v1 requires',
  },
  // [cf-diff] PATTERN_CHANGED is incompatible (regex inclusion is not decided), both ways.
  {
    change: 'a pattern changed',
    older: closed({ id, currency: { type: 'string', pattern: '^[A-Z]{3}$' } }),
    newer: closed({ id, currency: { type: 'string', pattern: '^[A-Z]{3,4}$' } }),
    backward: 'v1 values need not match pattern "^[A-Z]{3,4}$", which v2 requires',
    forward: 'v2 values need not match pattern "^[A-Z]{3}$", which v1 requires',
  },
  // Confluent ignores format; Glue (Everit) validates it, so it is treated like pattern.
  {
    change: 'a format added',
    older: closed({ id, email: { type: 'string' } }),
    newer: closed({ id, email: { type: 'string', format: 'email' } }),
    backward: 'v1 values need not match format "email", which v2 requires',
    forward: null,
  },
  {
    change: 'a format removed',
    older: closed({ id, at: { type: 'string', format: 'date-time' } }),
    newer: closed({ id, at: { type: 'string' } }),
    backward: null,
    forward: 'v2 values need not match format "date-time", which v1 requires',
  },
  {
    change: 'a format changed',
    older: closed({ id, at: { type: 'string', format: 'date-time' } }),
    newer: closed({ id, at: { type: 'string', format: 'date' } }),
    backward: 'v1 values need not match format "date", which v2 requires',
    forward: 'v2 values need not match format "date-time", which v1 requires',
  },
  // [cf-diff] MIN_LENGTH_INCREASED is incompatible.
  {
    change: 'a minLength raised',
    older: closed({ eventId: { type: 'string', minLength: 8 } }),
    newer: closed({ eventId: { type: 'string', minLength: 10 } }),
    backward: 'v1 accepts values outside minLength 10, which v2 rejects',
    forward: null,
  },
  // [cf-diff] MAX_LENGTH_INCREASED is compatible.
  {
    change: 'a maxLength raised',
    older: closed({ eventId: { type: 'string', maxLength: 64 } }),
    newer: closed({ eventId: { type: 'string', maxLength: 128 } }),
    backward: null,
    forward: 'v2 accepts values outside maxLength 64, which v1 rejects',
  },
  // [cf-diff] MAXIMUM_ADDED is incompatible.
  {
    change: 'a maximum added',
    older: closed({ id, amount: { type: 'integer', minimum: 0 } }),
    newer: closed({ id, amount: { type: 'integer', minimum: 0, maximum: 100 } }),
    backward: 'v1 accepts values outside maximum 100, which v2 rejects',
    forward: null,
  },
  // [cf-diff] MINIMUM_REMOVED is compatible.
  {
    change: 'a minimum removed',
    older: closed({ id, amount: { type: 'integer', minimum: 0 } }),
    newer: closed({ id, amount: { type: 'integer' } }),
    backward: null,
    forward: 'v2 accepts values outside minimum 0, which v1 rejects',
  },
  // [cf#1490] > 0 to >= 0 admits 0: a widening.
  {
    change: 'an exclusiveMinimum relaxed to the same minimum',
    older: closed({ id, amount: { type: 'number', exclusiveMinimum: 0 } }),
    newer: closed({ id, amount: { type: 'number', minimum: 0 } }),
    backward: null,
    forward: 'v2 accepts values outside exclusiveMinimum 0, which v1 rejects',
  },
  // [cf-diff] MULTIPLE_OF_EXPANDED (2 -> 4) is incompatible.
  {
    change: 'a multipleOf made coarser',
    older: closed({ id, amount: { type: 'integer', multipleOf: 2 } }),
    newer: closed({ id, amount: { type: 'integer', multipleOf: 4 } }),
    backward: 'v1 accepts values that are not multiples of 4, which v2 rejects',
    forward: null,
  },
  // [cf-diff] ADDITIONAL_PROPERTIES_REMOVED is incompatible.
  {
    change: 'an open object closed',
    older: open({ id }),
    newer: closed({ id }),
    backward: 'v1 data may carry undeclared fields that v2 rejects',
    forward: null,
  },
  // [cf-diff] ADDITIONAL_PROPERTIES_ADDED is compatible.
  {
    change: 'a closed object opened',
    older: closed({ id }),
    newer: open({ id }),
    backward: null,
    forward: 'v2 data may carry undeclared fields that v1 rejects',
  },
  // [cf-diff] DESCRIPTION_CHANGED and DEFAULT_CHANGED are compatible: annotations reject nothing.
  {
    change: 'only a description and a default changed',
    older: closed({ id: { type: 'string', description: 'old' } }),
    newer: closed({ id: { type: 'string', description: 'new', default: 'x' } }),
    backward: null,
    forward: null,
  },
  // Conservative: a keyword the checker does not model is breaking when it changes.
  {
    change: 'an unsupported keyword changed',
    older: closed({ id, tags: { type: 'array', items: { type: 'string' } } }),
    newer: closed({ id, tags: { type: 'array', items: { type: 'integer' } } }),
    backward: 'the checker cannot compare schemas using items; treat the change as breaking',
    forward: 'the checker cannot compare schemas using items; treat the change as breaking',
  },
];

/** [glue] Which directions each mode checks; NONE checks nothing and DISABLED refuses any new version. */
const checks: Record<CompatibilityMode, { backward: boolean; forward: boolean }> = {
  NONE: { backward: false, forward: false },
  DISABLED: { backward: false, forward: false },
  BACKWARD: { backward: true, forward: false },
  BACKWARD_ALL: { backward: true, forward: false },
  FORWARD: { backward: false, forward: true },
  FORWARD_ALL: { backward: false, forward: true },
  FULL: { backward: true, forward: true },
  FULL_ALL: { backward: true, forward: true },
};

const rows = compatibilityModes.flatMap((mode) =>
  rules.map((rule) => {
    const expected =
      mode === 'DISABLED'
        ? ['compatibility DISABLED allows no version after the first (v1)']
        : [
            ...(checks[mode].backward && rule.backward
              ? [`consumers on v2 cannot read data written with v1: ${rule.backward}`]
              : []),
            ...(checks[mode].forward && rule.forward
              ? [`consumers on v1 cannot read data written with v2: ${rule.forward}`]
              : []),
          ];
    return { mode, change: rule.change, rule, expected, verdict: expected.length ? 'refused' : 'accepted' };
  }),
);

const v = (version: number, schema: ObjectJsonSchema): VersionedSchema => ({ version, schema });

describe('compatibility rules per mode', () => {
  it('covers all eight Glue modes', () => {
    expect(Object.keys(checks).sort()).toEqual([...compatibilityModes].sort());
  });

  it.each(rows)('$mode: $change is $verdict', ({ mode, rule, expected }) => {
    const findings = checkNewVersion([v(1, rule.older)], v(2, rule.newer), mode);
    expect(findings).toHaveLength(expected.length);
    findings.forEach((finding, i) => {
      expect(finding.message).toContain(expected[i]);
      expect(finding).toMatchObject({ version: 2, against: 1, mode });
    });
  });
});

describe('checking against the last or every earlier version', () => {
  // v1 -> v2 changed a type (registered while the mode was NONE); v3 only adds an optional field.
  const v1 = v(1, closed({ id, amount: { type: 'integer' } }));
  const v2 = v(2, closed({ id, amount: { type: 'string' } }));
  const v3 = v(3, closed({ id, amount: { type: 'string' }, mcc: { type: 'string' } }, ['id', 'amount']));

  it.each([
    ['BACKWARD', []],
    ['BACKWARD_ALL', [1]],
    ['FORWARD', [2]],
    ['FORWARD_ALL', [1, 1, 2]],
    ['FULL', [2]],
    ['FULL_ALL', [1, 1, 1, 2]],
  ] as const)('%s checks v3 against the versions %j', (mode, against) => {
    const findings = checkNewVersion([v1, v2], v3, mode);
    expect(findings.map((f) => f.against)).toEqual(against);
  });

  it('reports the transitive break with both versions named', () => {
    const [finding] = checkNewVersion([v1, v2], v3, 'BACKWARD_ALL');
    expect(finding?.message).toBe(
      'field "amount": type changed from integer to string — consumers on v3 cannot read data written with v1: v1 accepts integer values, which v3 rejects',
    );
  });

  it('checks every version of a history against its predecessors', () => {
    const findings = checkHistory([v1, v2, v3], 'BACKWARD');
    expect(findings.map((f) => [f.version, f.against, f.kind])).toEqual([[2, 1, 'type-changed']]);
  });

  it('accepts a single version under DISABLED and refuses the second', () => {
    expect(checkHistory([v1], 'DISABLED')).toEqual([]);
    expect(checkHistory([v1, v2], 'DISABLED')).toMatchObject([{ version: 2, kind: 'versioning-disabled' }]);
  });
});

describe('the transaction contract', () => {
  const history = contractJsonSchemas(transaction).map((s) => v(s.version, s.schema));

  it.each(['NONE', 'BACKWARD', 'BACKWARD_ALL'] as const)('keeps v1 -> v2 compatible under %s', (mode) => {
    expect(checkHistory(history, mode)).toEqual([]);
  });

  // [glue#172]: adding optional fields (mcc, cardPresent) to a closed object is not FORWARD, so not FULL.
  it.each(['FORWARD', 'FULL', 'FULL_ALL'] as const)(
    'would refuse v2 under %s for its two new fields',
    (mode) => {
      expect(checkHistory(history, mode).map((f) => [f.field, f.kind])).toEqual([
        ['cardPresent', 'field-added-optional'],
        ['mcc', 'field-added-optional'],
      ]);
    },
  );
});
