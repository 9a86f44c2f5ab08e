/**
 * A demo run on the local platform: send the planned traffic through Kinesis, wait until the
 * processor has handled all of it, then reconcile the stores and the API against the plan.
 */
import { SingleBar } from 'cli-progress';
import { FeatureEventProducer } from '../clients/feature-event-producer.js';
import { groupsFedBy } from '../schemas/index.js';
import { transaction } from '../schemas/transaction.contract.js';
import { auditOutcomes } from './audit.js';
import { localKinesisClient, localS3Client } from './clients.js';
import { planDemoTraffic } from './demo-traffic.js';
import type { LocalPlatform } from './platform.js';
import { referenceFeatures } from './reference-features.js';
import { type LookupCheck, verifyLookups } from './verify-lookups.js';

export interface DemoSummary {
  readonly events_sent: number;
  readonly events_applied: number;
  readonly duplicates: number;
  readonly quarantined: number;
  readonly late: number;
  readonly lookups_ok: number;
  readonly lookups_failed: number;
  readonly seconds: number;
  /** sent = applied + duplicates + quarantined + late, each equal to the plan, and every lookup matched. */
  readonly consistent: boolean;
  readonly expected: { applied: number; duplicates: number; quarantined: number; late: number };
  readonly unsent: number;
}

export interface DemoRunOptions {
  readonly events: number;
  readonly seed?: number;
  /** Show a progress bar on stderr (only drawn on a terminal). */
  readonly progress?: boolean;
  readonly drainTimeoutMs?: number;
}

export async function runDemo(
  platform: LocalPlatform,
  options: DemoRunOptions,
): Promise<{ summary: DemoSummary; lookups: LookupCheck }> {
  const started = performance.now();
  const plan = planDemoTraffic({ events: options.events, now: Date.now(), seed: options.seed ?? 42 });
  const kinesis = localKinesisClient(platform.standIns);
  const bar = options.progress
    ? new SingleBar({
        format: 'sending   [{bar}] {value}/{total} records',
        hideCursor: true,
        clearOnComplete: false,
      })
    : undefined;
  bar?.start(plan.records.length, 0);
  // Raw on purpose: the plan's malformed records must reach the processor's quarantine unvalidated.
  const producer = new FeatureEventProducer({
    kinesis,
    streamName: platform.names.stream,
    contract: transaction,
  });
  const sent = await producer.sendRaw(plan.records, { onProgress: (p) => bar?.update(p.sent) });
  bar?.stop();
  kinesis.destroy();

  await platform.eventSourceMapping.drain(options.drainTimeoutMs ?? 300_000);

  const s3 = localS3Client(platform.standIns);
  const audit = await auditOutcomes({ s3 }, platform.names);
  s3.destroy();
  const reference = referenceFeatures(
    plan.events.map((fields) => ({ contract: transaction, fields })),
    groupsFedBy,
  );
  const lookups = await verifyLookups({ ...platform.endpoints.api, region: platform.endpoints.region }, [
    ...reference.entities.values(),
  ]);

  const e = { ...reference.counts, quarantined: plan.quarantined };
  const accounted = audit.applied + audit.duplicates + audit.quarantined + audit.late;
  const consistent =
    sent.unsent.length === 0 &&
    sent.rejected.length === 0 &&
    accounted === sent.sent &&
    audit.applied === e.applied &&
    audit.duplicates === e.duplicates &&
    audit.quarantined === e.quarantined &&
    audit.late === e.late &&
    lookups.failed === 0;
  return {
    summary: {
      events_sent: sent.sent,
      events_applied: audit.applied,
      duplicates: audit.duplicates,
      quarantined: audit.quarantined,
      late: audit.late,
      lookups_ok: lookups.ok,
      lookups_failed: lookups.failed,
      seconds: Math.round((performance.now() - started) / 10) / 100,
      consistent,
      expected: e,
      unsent: sent.unsent.length + sent.rejected.length,
    },
    lookups,
  };
}
