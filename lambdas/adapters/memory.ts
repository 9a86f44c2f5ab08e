/**
 * In-memory implementations of the ports, with the same contracts as the AWS ones: for unit
 * tests, the processor benchmark, and as the reference the store adapters are tested against.
 */
import { compareEventOrder, entityKeyOf } from '../core/latest-values.js';
import type {
  ClaimResult,
  EntityKey,
  EventClaim,
  EventLedger,
  FeatureRecord,
  LatestWriteResult,
  OfflineBatch,
  OfflineSink,
  OnlineStore,
  PutResult,
  SideOutput,
  SideOutputEntry,
} from '../core/ports.js';

export class InMemoryOnlineStore implements OnlineStore {
  readonly items = new Map<string, FeatureRecord>();
  async putLatest(records: readonly FeatureRecord[]): Promise<LatestWriteResult[]> {
    return records.map((r) => {
      const current = this.items.get(entityKeyOf(r));
      if (current && compareEventOrder(r, current) <= 0) return 'stale';
      this.items.set(entityKeyOf(r), r);
      return 'applied';
    });
  }
  async getLatest(keys: readonly EntityKey[]): Promise<(FeatureRecord | undefined)[]> {
    return keys.map((k) => this.items.get(entityKeyOf(k)));
  }
}

export class InMemoryEventLedger implements EventLedger {
  readonly claims = new Map<string, EventClaim>();
  async claim(claims: readonly EventClaim[]): Promise<ClaimResult[]> {
    return claims.map((c) => {
      const owner = this.claims.get(c.eventKey);
      if (owner && owner.recordId !== c.recordId) return { duplicateOf: owner.recordId };
      this.claims.set(c.eventKey, c);
      return 'claimed';
    });
  }
}

export class InMemoryOfflineSink implements OfflineSink {
  /** Keyed like the S3 objects: group/dt/batchId, so a rewrite replaces. */
  readonly objects = new Map<string, OfflineBatch>();
  async append(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    return batches.map((b) => {
      this.objects.set(`${b.group}/${b.dt}/${b.batchId}`, b);
      return 'stored';
    });
  }
  rows(group: string) {
    return [...this.objects.values()].filter((b) => b.group === group).flatMap((b) => b.rows);
  }
}

export class InMemorySideOutput implements SideOutput {
  readonly entries = new Map<string, SideOutputEntry>();
  async put(entries: readonly SideOutputEntry[]): Promise<PutResult[]> {
    return entries.map((e) => {
      this.entries.set(`${e.kind}/${e.recordId}`, e);
      return 'stored';
    });
  }
  ofKind(kind: SideOutputEntry['kind']) {
    return [...this.entries.values()].filter((e) => e.kind === kind);
  }
}
