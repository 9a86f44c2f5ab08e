/**
 * Raw event rows as stream records again, for the processor core. Three things differ from a
 * producer's record, each for a reason:
 * - the contract: PII fields hold tokens now (the processor tokenized them before storing), so the
 *   replay contract accepts any string there, and a token passes through unchanged (a second
 *   tokenization would change it); older versions parse with the same shape (the stored row is
 *   already upgraded) so each row keeps its `contract_version`;
 * - the record id: a synthetic shard `backfill-<run>` and a sequence number made of the event time
 *   and a hash of the event id. Stable for an event whatever else is in the partition, and
 *   ascending in event time, so the per-entity checkpoint of that one shard makes a re-run a no-op
 *   and the watermark sees events in order (one checkpoint entry per entity, not one per date);
 * - the arrival time: the row's ingestion time, so decisions that depend on it are the original's.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { Tokenizer } from '../../lambdas/core/ports.js';
import { columnName, type EventContract } from '../../schemas/index.js';

/** The contract as the stored rows satisfy it: PII fields are tokens, every version has the current shape. */
export function replayContract(contract: EventContract): EventContract {
  const shape: Record<string, z.ZodType> = { ...contract.schema.shape };
  for (const [field, classification] of Object.entries(contract.classification)) {
    if (classification !== 'pii') continue;
    const optional = (shape[field] as z.ZodType).safeParse(undefined).success;
    shape[field] = optional ? z.string().optional() : z.string();
  }
  const schema = z.strictObject(shape);
  return {
    ...contract,
    schema,
    previousVersions: contract.previousVersions.map((p) => ({ version: p.version, schema })),
  };
}

/** Tokens stay as they are. */
export const passThroughTokenizer: Tokenizer = {
  tokenize: async (items) => items.map((i) => i.value),
};

/** Event time (15 digits) then 20 digits of SHA-256 of the event id: a Kinesis-shaped sequence number. */
export function replaySequence(eventTime: number, eventId: string): string {
  const hash = BigInt(`0x${createHash('sha256').update(eventId).digest('hex').slice(0, 16)}`);
  return `${String(eventTime).padStart(15, '0')}${String(hash).padStart(20, '0')}`;
}

/** A raw-events row (timestamps as epoch ms) as the record that carried it, on the replay shard. */
export function replayRecord(
  contract: EventContract,
  shardId: string,
  row: Readonly<Record<string, unknown>>,
): InputRecord {
  const event: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(contract.fieldTypes)) {
    const value =
      field === contract.eventIdField
        ? row.event_id
        : field === contract.eventTimeField
          ? row.event_time
          : row[columnName(field)];
    if (value === null || value === undefined) continue;
    event[field] =
      type === 'timestamp'
        ? new Date(Number(value)).toISOString()
        : typeof value === 'bigint'
          ? Number(value)
          : value;
  }
  const eventTime = Number(row.event_time);
  const sequenceNumber = replaySequence(eventTime, String(row.event_id));
  const payload = { contract: contract.name, version: Number(row.contract_version), event };
  return {
    recordId: `${shardId}:${sequenceNumber}`,
    shardId,
    sequenceNumber,
    partitionKey: String(event[contract.partitionKeyField]),
    arrivalTime: Number(row.ingestion_time),
    data: Buffer.from(JSON.stringify(payload)).toString('base64'),
  };
}
