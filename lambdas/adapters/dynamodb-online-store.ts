/**
 * Online store on DynamoDB. One item per entity per group, `pk = <group>#<entityId>`, features as
 * top-level attributes next to `event_time`, `event_id`, `ingestion_time`, `contract_version` and the
 * TTL attribute `expires_at`. Each write is one conditional UpdateItem:
 *   attribute_not_exists(pk) OR event_time < :t OR (event_time = :t AND event_id < :id)
 * so an older event never overwrites a newer one and a redelivered one changes nothing.
 */
import {
  DynamoDBClient as Client,
  type DynamoDBClient,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type {
  EntityKey,
  FeatureRecord,
  FeatureValue,
  LatestWriteResult,
  OnlineStore,
} from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, isConditionalCheckFailed, OnlineStoreError } from './errors.js';

export interface DynamoDbOnlineStoreProps {
  readonly tableName: string;
  /** A client to use; otherwise one is created lazily from `clientConfig`. */
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
  /** Writes in flight at once. @default 32 */
  readonly concurrency?: number;
}

const META = [
  'pk',
  'group',
  'entity_id',
  'event_time',
  'event_id',
  'ingestion_time',
  'contract_version',
  'expires_at',
];
const BATCH_GET_MAX = 100;

export const onlineKey = (k: EntityKey): string => `${k.group}#${k.entityId}`;

export class DynamoDbOnlineStore implements OnlineStore {
  #doc?: DynamoDBDocumentClient;
  constructor(private readonly props: DynamoDbOnlineStoreProps) {}

  private get doc(): DynamoDBDocumentClient {
    this.#doc ??= DynamoDBDocumentClient.from(
      this.props.client ?? new Client(this.props.clientConfig ?? {}),
      {
        marshallOptions: { removeUndefinedValues: true },
      },
    );
    return this.#doc;
  }

  async putLatest(records: readonly FeatureRecord[]): Promise<LatestWriteResult[]> {
    return mapWithConcurrency(records, this.props.concurrency ?? 32, (r) => this.putOne(r));
  }

  private async putOne(r: FeatureRecord): Promise<LatestWriteResult> {
    const names: Record<string, string> = { '#t': 'event_time', '#id': 'event_id' };
    const values: Record<string, unknown> = { ':t': r.eventTime, ':id': r.eventId };
    const set = ['#t = :t', '#id = :id'];
    const remove: string[] = [];
    const meta: Record<string, FeatureValue> = {
      group: r.group,
      entity_id: r.entityId,
      ingestion_time: r.ingestionTime,
      contract_version: r.contractVersion,
      expires_at: r.expiresAt,
    };
    let i = 0;
    for (const [name, value] of [...Object.entries(meta), ...Object.entries(r.values)]) {
      names[`#a${i}`] = name;
      if (value === null) remove.push(`#a${i}`);
      else {
        values[`:a${i}`] = value;
        set.push(`#a${i} = :a${i}`);
      }
      i++;
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.props.tableName,
          Key: { pk: onlineKey(r) },
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_not_exists(pk) OR #t < :t OR (#t = :t AND #id < :id)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return 'applied';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'stale';
      return {
        failed: new OnlineStoreError(`write of ${onlineKey(r)} failed: ${asError(error).message}`, 'online', {
          cause: error,
        }),
      };
    }
  }

  async getLatest(keys: readonly EntityKey[]): Promise<(FeatureRecord | undefined)[]> {
    const found = new Map<string, Record<string, unknown>>();
    const unique = [...new Set(keys.map(onlineKey))];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_MAX) chunks.push(unique.slice(i, i + BATCH_GET_MAX));
    await Promise.all(chunks.map((chunk) => this.batchGet(chunk, found)));
    return keys.map((k) => {
      const item = found.get(onlineKey(k));
      return item ? toRecord(item) : undefined;
    });
  }

  /** BatchGetItem with UnprocessedKeys retried (backoff with full jitter). */
  private async batchGet(pks: string[], found: Map<string, Record<string, unknown>>): Promise<void> {
    let pending: Record<string, unknown>[] = pks.map((pk) => ({ pk }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (attempt > 8) throw new OnlineStoreError(`${pending.length} keys stayed unprocessed`, 'online');
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(1000, 25 * 2 ** attempt)));
      }
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.props.tableName]: { Keys: pending, ConsistentRead: false } },
        }),
      );
      for (const item of out.Responses?.[this.props.tableName] ?? []) found.set(String(item.pk), item);
      pending =
        (out.UnprocessedKeys?.[this.props.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
  }
}

function toRecord(item: Record<string, unknown>): FeatureRecord {
  const values: Record<string, FeatureValue> = {};
  for (const [k, v] of Object.entries(item)) if (!META.includes(k)) values[k] = v as FeatureValue;
  return {
    group: String(item.group),
    entityId: String(item.entity_id),
    eventTime: Number(item.event_time),
    eventId: String(item.event_id),
    ingestionTime: Number(item.ingestion_time),
    contractVersion: Number(item.contract_version),
    expiresAt: Number(item.expires_at),
    values,
  };
}
