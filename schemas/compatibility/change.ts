/** What the compatibility diff reports: one change between two versions, and why it breaks a reader. */

export type ChangeKind =
  | 'field-removed'
  | 'field-added-optional'
  | 'field-added-required'
  | 'optional-to-required'
  | 'required-to-optional'
  | 'type-changed'
  | 'type-narrowed'
  | 'type-widened'
  | 'enum-value-removed'
  | 'enum-value-added'
  | 'enum-added'
  | 'enum-removed'
  | 'pattern-added'
  | 'pattern-removed'
  | 'pattern-changed'
  | 'format-added'
  | 'format-removed'
  | 'format-changed'
  | 'bound-narrowed'
  | 'bound-widened'
  | 'multiple-of-changed'
  | 'additional-properties-closed'
  | 'additional-properties-opened'
  | 'additional-properties-changed'
  | 'unsupported';

/** One difference between two schema versions. */
export interface Change {
  readonly kind: ChangeKind;
  /** The field concerned; absent for object-level changes. */
  readonly field?: string;
  /** What changed, e.g. `enum value "atm" removed`. */
  readonly summary: string;
  /** Why data written with the older version may fail the newer one (breaks BACKWARD); absent if it cannot. */
  readonly backward?: string;
  /** Why data written with the newer version may fail the older one (breaks FORWARD); absent if it cannot. */
  readonly forward?: string;
}

/** Names of the two versions in messages, e.g. `{ older: 'v1', newer: 'v2' }`. */
export interface Labels {
  readonly older: string;
  readonly newer: string;
}

/** Keywords that annotate and never reject a value. */
export const ANNOTATIONS = new Set([
  '$id',
  '$schema',
  '$comment',
  'title',
  'description',
  'default',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
]);
