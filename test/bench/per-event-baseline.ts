/**
 * The usual way to make a Kinesis -> DynamoDB feature pipeline idempotent, as the write-cost
 * baseline: Powertools for AWS Lambda's idempotency (DynamoDB persistence layer) around a per-record
 * handler, and one UpdateItem per event per feature group adding the event into the feature item.
 *
 * Per valid event (the shapes follow Powertools' `DynamoDBPersistenceLayer`, default attribute
 * names, idempotency key = function name + MD5 of the event id):
 * 1. PutItem of the idempotency record {id, expiration, status: INPROGRESS, in_progress_expiration}
 *    on `attribute_not_exists(#id) OR #expiry < :now OR (INPROGRESS and its in-progress expiry passed)`;
 *    a failed condition means "already processed": the event is a duplicate and nothing else is written;
 * 2. per feature group, an UpdateItem of the entity's feature item: SET the latest values and their
 *    event metadata, ADD the event into flat tile attributes (`t<tile s>_<start s>_<field>_<partial>`):
 *    count and sum by ADD, distinct values by ADD to a string set, min, max and last by SET (a real
 *    implementation needs a condition or a read for min and max; DynamoDB charges an update by the
 *    item's size, not by its expression, so the write units are the same);
 * 3. UpdateItem of the idempotency record to COMPLETED with the handler's result.
 * Malformed records have no event id to key on and are only quarantined (no write: generous to the
 * baseline). Events run 32 at a time, like Powertools' BatchProcessor in parallel mode.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mapWithConcurrency } from '../../lambdas/adapters/concurrency.js';
import { isConditionalCheckFailed } from '../../lambdas/adapters/errors.js';
import { decodeRecord, type InputRecord, type ValidEvent } from '../../lambdas/core/decode.js';
import { featureValueOf } from '../../lambdas/core/latest-values.js';
import { tilePlan } from '../../lambdas/core/tiles.js';
import { HmacTokenizer } from '../../lambdas/core/tokens.js';
import type { EventContract, FeatureGroup } from '../../schemas/index.js';
import { latestFeatures } from '../../schemas/index.js';

export interface PerEventBaselineProps {
  readonly client: DynamoDBClient;
  readonly idempotencyTable: string;
  readonly featureTable: string;
  readonly contracts: ReadonlyMap<string, EventContract>;
  readonly groupsFedBy: (contractName: string) => readonly FeatureGroup[];
  readonly functionName?: string;
  readonly concurrency?: number;
}

export interface BaselineResult {
  readonly applied: number;
  readonly duplicates: number;
  readonly quarantined: number;
}

const IDEMPOTENCY_EXPIRY_S = 3600;

export class PerEventBaseline {
  readonly #tokenizer = new HmacTokenizer(async () => new Uint8Array(32).fill(7));
  readonly #doc: DynamoDBDocumentClient;
  constructor(private readonly props: PerEventBaselineProps) {
    this.#doc = DynamoDBDocumentClient.from(props.client);
  }

  async process(records: readonly InputRecord[]): Promise<BaselineResult> {
    const counts = { applied: 0, duplicates: 0, quarantined: 0 };
    await mapWithConcurrency(records, this.props.concurrency ?? 32, async (record) => {
      const decoded = decodeRecord(record, this.props.contracts);
      if (!decoded.ok) {
        counts.quarantined++;
        return;
      }
      const key = this.#idempotencyKey(decoded.event.eventId);
      if (!(await this.#saveInProgress(key))) {
        counts.duplicates++;
        return;
      }
      const event = await this.#tokenized(decoded.event);
      await Promise.all(
        this.props
          .groupsFedBy(event.contract.name)
          .map((group) => this.#applyToFeatureItem(group, event, record)),
      );
      await this.#saveSuccess(key, { outcome: 'applied' });
      counts.applied++;
    });
    return counts;
  }

  #idempotencyKey(eventId: string): string {
    const hash = createHash('md5').update(JSON.stringify(eventId)).digest('hex');
    return `${this.props.functionName ?? 'fp-bench-processor'}#${hash}`;
  }

  async #tokenized(event: ValidEvent): Promise<ValidEvent> {
    const pii = Object.entries(event.fields).filter(
      ([field, value]) =>
        event.contract.classification[field as keyof typeof event.contract.classification] === 'pii' &&
        typeof value === 'string',
    );
    const tokens = await this.#tokenizer.tokenize(
      pii.map(([field, value]) => ({ field, value: String(value) })),
    );
    const fields = { ...event.fields };
    pii.forEach(([field], i) => {
      fields[field] = tokens[i];
    });
    return { ...event, fields };
  }

  /** Powertools' `_putRecord`: false when the record exists and is not expired (already processed). */
  async #saveInProgress(id: string): Promise<boolean> {
    const now = Date.now();
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.props.idempotencyTable,
          Item: {
            id,
            expiration: Math.floor(now / 1000) + IDEMPOTENCY_EXPIRY_S,
            status: 'INPROGRESS',
            in_progress_expiration: now + 60_000,
          },
          ConditionExpression:
            'attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
          ExpressionAttributeNames: {
            '#id': 'id',
            '#expiry': 'expiration',
            '#in_progress_expiry': 'in_progress_expiration',
            '#status': 'status',
          },
          ExpressionAttributeValues: {
            ':now': now / 1000,
            ':now_in_millis': now,
            ':inprogress': 'INPROGRESS',
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** Powertools' `_updateRecord`: COMPLETED, with the handler's result as `data`. */
  async #saveSuccess(id: string, result: unknown): Promise<void> {
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.props.idempotencyTable,
        Key: { id },
        UpdateExpression: 'SET #expiry = :expiry, #status = :status, #response_data = :response_data',
        ExpressionAttributeNames: { '#expiry': 'expiration', '#status': 'status', '#response_data': 'data' },
        ExpressionAttributeValues: {
          ':expiry': Math.floor(Date.now() / 1000) + IDEMPOTENCY_EXPIRY_S,
          ':status': 'COMPLETED',
          ':response_data': JSON.stringify(result),
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  /** One UpdateItem: the event's latest values (SET) and its contribution to every tile (ADD/SET). */
  async #applyToFeatureItem(group: FeatureGroup, event: ValidEvent, record: InputRecord): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const set: string[] = [];
    const add: string[] = [];
    const placeholder = (name: string, value: unknown) => {
      const i = Object.keys(names).length;
      names[`#a${i}`] = name;
      values[`:v${i}`] = value;
      return [`#a${i}`, `:v${i}`] as const;
    };
    for (const f of latestFeatures(group)) {
      const v = featureValueOf(event.fields[f.field], f.type);
      if (v === null) continue;
      const [n, p] = placeholder(f.name, v);
      set.push(`${n} = ${p}`);
    }
    for (const [name, v] of [
      ['event_time', event.eventTime],
      ['event_id', event.eventId],
      ['ingestion_time', record.arrivalTime],
      ['contract_version', event.contractVersion],
      ['expires_at', Math.ceil((event.eventTime + group.ttlMs) / 1000)],
    ] as const) {
      const [n, p] = placeholder(name, v);
      set.push(`${n} = ${p}`);
    }
    for (const size of tilePlan(group).sizes) {
      const start = Math.floor(event.eventTime / size.tileMs) * size.tileMs;
      const tile = `t${size.tileMs / 1000}_${start / 1000}`;
      const [nn, np] = placeholder(`${tile}_n`, 1);
      add.push(`${nn} ${np}`);
      for (const [field, kinds] of size.fields) {
        const v = event.fields[field];
        if (v === null || v === undefined) continue;
        const [cn, cp] = placeholder(`${tile}_${field}_c`, 1);
        add.push(`${cn} ${cp}`);
        if (kinds.has('sum')) {
          const [n, p] = placeholder(`${tile}_${field}_s`, v);
          add.push(`${n} ${p}`);
        }
        if (kinds.has('minmax')) {
          for (const partial of ['mn', 'mx']) {
            const [n, p] = placeholder(`${tile}_${field}_${partial}`, v);
            set.push(`${n} = ${p}`);
          }
        }
        if (kinds.has('last')) {
          const [n, p] = placeholder(`${tile}_${field}_l`, v);
          set.push(`${n} = ${p}`);
        }
        if (kinds.has('distinct')) {
          const [n, p] = placeholder(`${tile}_${field}_d`, new Set([String(v)]));
          add.push(`${n} ${p}`);
        }
      }
    }
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.props.featureTable,
        Key: { pk: `${group.name}#${String(event.fields[group.entity.field])}` },
        UpdateExpression: `SET ${set.join(', ')} ADD ${add.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }
}
