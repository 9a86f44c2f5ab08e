/**
 * The erasure audit record: who asked, when, for which entity (a fingerprint, never the id), and
 * what was removed where (counts only). Kept at `audit/erasure/<yyyy-mm-dd>/<request id>-<fingerprint>.json`
 * in the offline bucket, outside the datasets' prefixes.
 */

import { ERASURE_RECORDS_PREFIX } from '../../lib/platform-spec.js';
import type { RemovedRows } from './remove-rows.js';
import type { SideOutputErasure } from './side-outputs.js';

export const AUDIT_PREFIX = ERASURE_RECORDS_PREFIX;

export interface ErasureAudit {
  readonly kind: 'erasure';
  readonly requestId: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly completedAt: string;
  readonly entity: { readonly name: string; readonly sha256: string };
  readonly online: readonly {
    readonly table: string;
    readonly group: string;
    readonly itemDeleted: boolean;
    /** Its id buckets deleted (event ids it decided lately). */
    readonly idBucketsDeleted: number;
  }[];
  readonly offline: readonly ({ readonly bucket: string; readonly dataset: string } & Omit<
    RemovedRows,
    'events'
  >)[];
  /** Rows of other groups derived from the erased events (no entity id in them): kept or dropped. */
  readonly derived: readonly {
    readonly dataset: string;
    readonly action: 'kept' | 'dropped';
    readonly rows: number;
  }[];
  readonly sideOutputs: { readonly bucket: string } & SideOutputErasure;
  /** What this erasure cannot reach, for the record. */
  readonly notes: readonly string[];
}

/**
 * `audit/erasure/<date>/<request id>-<entity fingerprint, 16 hex>.json`: one request (a ticket) may
 * erase several entities, each with its own record; the same request for the same entity on the
 * same day is one record (a rerun keeps the first).
 */
export const auditKey = (a: Pick<ErasureAudit, 'requestId' | 'requestedAt' | 'entity'>): string =>
  `${AUDIT_PREFIX}${a.requestedAt.slice(0, 10)}/${a.requestId}-${a.entity.sha256.slice(0, 16)}.json`;
