/**
 * Schema compatibility under the eight AWS Glue Schema Registry modes, for the JSON Schemas our
 * contracts produce (draft-07 objects of scalar fields). Pure: histories in, findings out.
 *
 * Modes (Glue CreateSchema `Compatibility`, AWS Glue API reference; Confluent names in brackets):
 * - NONE: no check; any new version is accepted.
 * - DISABLED: versioning is off; any version after the first is refused. (Glue only.)
 * - BACKWARD [BACKWARD]: consumers using the new version can read data written with the previous
 *   (last) one. BACKWARD_ALL [BACKWARD_TRANSITIVE]: ... with every previous one.
 * - FORWARD [FORWARD]: consumers using the previous version can read data written with the new
 *   one. FORWARD_ALL [FORWARD_TRANSITIVE]: every previous version can read the new one's data.
 * - FULL [FULL]: BACKWARD and FORWARD against the last version. FULL_ALL [FULL_TRANSITIVE]: both
 *   against every previous version.
 *
 * "Can read" means: every document valid under the writer's schema is valid under the reader's
 * (Confluent's definition for JSON Schema, rayokota in confluentinc/schema-registry#1490; Yokota,
 * "Understanding JSON Schema Compatibility", 2021). So a change that narrows what is accepted
 * breaks BACKWARD and one that widens it breaks FORWARD (`./diff.ts`, `./scalar-diff.ts`):
 *
 * | change                                   | BACKWARD | FORWARD | source                                   |
 * |------------------------------------------|----------|---------|------------------------------------------|
 * | optional field added, closed object      | ok       | breaks  | Confluent OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL compatible; reversed = PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL |
 * | optional field added, open object        | breaks   | ok      | confluentinc/schema-registry#1458 (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL), #1529 |
 * | required field added (no default)        | breaks   | breaks* | REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL (*closed: the older rejects it) |
 * | field removed, closed object             | breaks   | ok / breaks if it was required | PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL; REQUIRED_ATTRIBUTE_ADDED reversed |
 * | field removed, open object               | ok       | breaks  | PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL compatible; #2121 (forward) |
 * | optional -> required                     | breaks   | ok      | REQUIRED_ATTRIBUTE_ADDED                 |
 * | required -> optional                     | ok       | breaks  | REQUIRED_ATTRIBUTE_REMOVED compatible    |
 * | type changed (string -> integer)         | breaks   | breaks  | TYPE_CHANGED                             |
 * | type narrowed (number -> integer)        | breaks   | ok      | TYPE_NARROWED                            |
 * | type widened (integer -> number)         | ok       | breaks  | TYPE_EXTENDED compatible                 |
 * | enum value removed / enum added          | breaks   | ok      | ENUM_ARRAY_NARROWED                      |
 * | enum value added / enum removed          | ok       | breaks  | ENUM_ARRAY_EXTENDED compatible           |
 * | pattern / format added                   | breaks   | ok      | PATTERN_ADDED                            |
 * | pattern / format removed                 | ok       | breaks  | PATTERN_REMOVED compatible               |
 * | pattern / format changed                 | breaks   | breaks  | PATTERN_CHANGED                          |
 * | min raised / max lowered / bound added   | breaks   | ok      | MIN_LENGTH_INCREASED, MAXIMUM_DECREASED, *_ADDED |
 * | min lowered / max raised / bound removed | ok       | breaks  | MIN_LENGTH_DECREASED, MAXIMUM_INCREASED, *_REMOVED compatible |
 * | additionalProperties true -> false       | breaks   | ok      | ADDITIONAL_PROPERTIES_REMOVED            |
 * | additionalProperties false -> true       | ok       | breaks  | ADDITIONAL_PROPERTIES_ADDED compatible   |
 * | any keyword outside this list changed    | breaks   | breaks  | conservative: the checker cannot judge it |
 * (Difference types: confluentinc/schema-registry json-schema-provider `json/diff/*SchemaDiff.java`,
 * whose COMPATIBLE_CHANGES are the backward-compatible ones; FORWARD is the same check with the
 * two versions swapped.)
 *
 * Where Glue and Confluent differ, and what this checker does:
 * 1. Adding an optional field under FULL. Glue's documentation says FULL is for "when you need to
 *    add or remove optional fields" (Avro thinking); Glue's JSON implementation rejects it
 *    (awslabs/aws-glue-schema-registry#172, acknowledged by a maintainer, still open). Confluent
 *    rejects it by design for JSON: closed, it breaks FORWARD; open, it breaks BACKWARD. We reject
 *    it too: it is what the set semantics give and what Glue actually does, so the gate never
 *    passes a version Glue would refuse. Under FULL a contract can therefore not add fields; use
 *    BACKWARD (adds) or FORWARD (removals).
 * 2. Removing a field. Glue's documentation lists "delete fields" under BACKWARD_ALL (Avro, where a
 *    reader ignores unknown fields); for a closed JSON object the new reader rejects the old
 *    field, so, as in Confluent, removal breaks BACKWARD and (for an optional field) passes FORWARD.
 * 3. A required field with a `default`: Confluent counts adding one as backward compatible
 *    (REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL), as if the reader filled it in.
 *    JSON Schema validators (Everit in Glue, zod here) do not fill defaults, so we keep it
 *    breaking. (zod's `io: 'input'` export makes a `.default()` field optional anyway.)
 * 4. `format`: Confluent's diff ignores it; Glue validates it (Everit). We treat it like `pattern`.
 * 5. DISABLED exists only in Glue (Confluent has no equivalent compatibility level).
 * 6. A history under a mode: registries check only a version being registered. This gate checks
 *    every version of the declared history against its predecessors under the declared mode, so a
 *    contract's whole history always satisfies its mode (tightening the mode of a contract whose
 *    history does not comply fails the gate).
 */
import type { CompatibilityMode } from '../contract.js';
import { type ChangeKind, diffSchemas } from './diff.js';
import type { ObjectJsonSchema } from './json-schema.js';

export interface VersionedSchema {
  readonly version: number;
  readonly schema: ObjectJsonSchema;
}

/** One breaking change: the version that introduces it, the version it breaks against, and why. */
export interface Finding {
  readonly version: number;
  readonly against: number;
  readonly mode: CompatibilityMode;
  readonly kind: ChangeKind | 'versioning-disabled';
  readonly direction: 'backward' | 'forward' | 'disabled';
  readonly field?: string;
  readonly message: string;
}

const DIRECTIONS: Record<CompatibilityMode, readonly ('backward' | 'forward')[]> = {
  NONE: [],
  DISABLED: [],
  BACKWARD: ['backward'],
  BACKWARD_ALL: ['backward'],
  FORWARD: ['forward'],
  FORWARD_ALL: ['forward'],
  FULL: ['backward', 'forward'],
  FULL_ALL: ['backward', 'forward'],
};

/** Whether the mode checks a new version against every earlier one, not just the last. */
export const isTransitive = (mode: CompatibilityMode): boolean => mode.endsWith('_ALL');

/** The breaking changes of `candidate` against the `registered` versions (oldest first) under `mode`. */
export function checkNewVersion(
  registered: readonly VersionedSchema[],
  candidate: VersionedSchema,
  mode: CompatibilityMode,
): Finding[] {
  const last = registered.at(-1);
  if (!last || mode === 'NONE') return [];
  if (mode === 'DISABLED') {
    return [
      {
        version: candidate.version,
        against: last.version,
        mode,
        kind: 'versioning-disabled',
        direction: 'disabled',
        message: `compatibility DISABLED allows no version after the first (v${registered[0]?.version})`,
      },
    ];
  }
  const targets = isTransitive(mode) ? registered : [last];
  const findings: Finding[] = [];
  for (const target of targets) {
    const [older, newer] = [`v${target.version}`, `v${candidate.version}`];
    for (const change of diffSchemas(target.schema, candidate.schema, { older, newer })) {
      for (const direction of DIRECTIONS[mode]) {
        const reason = change[direction];
        if (!reason) continue;
        const who =
          direction === 'backward'
            ? `consumers on ${newer} cannot read data written with ${older}`
            : `consumers on ${older} cannot read data written with ${newer}`;
        findings.push({
          version: candidate.version,
          against: target.version,
          mode,
          kind: change.kind,
          direction,
          ...(change.field ? { field: change.field } : {}),
          message: `${change.summary} — ${who}: ${reason}`,
        });
      }
    }
  }
  return findings;
}

/** Every version of a history (oldest first) checked against its predecessors under `mode`. */
export const checkHistory = (history: readonly VersionedSchema[], mode: CompatibilityMode): Finding[] =>
  history.flatMap((candidate, i) => checkNewVersion(history.slice(0, i), candidate, mode));
