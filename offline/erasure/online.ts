/**
 * Deleting an entity's online items (one per group keyed by it, and that group's id buckets of the
 * entity): the port and its DynamoDB adapter. Deletes only, by key: nothing is read.
 */
import { DeleteItemCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { mapWithConcurrency } from '../../lambdas/adapters/concurrency.js';
import { entityItemKey } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { isConditionalCheckFailed } from '../../lambdas/adapters/errors.js';
import { idBucketKey, idBucketStart } from '../../lambdas/core/id-buckets.js';
import type { EntityKey } from '../../lambdas/core/ports.js';
import { ErasureError } from '../errors.js';

export interface OnlineErased {
  /** Whether there was an item. Deleting a missing item succeeds. */
  readonly itemDeleted: boolean;
  /** Id buckets of the entity that were there and are deleted (event ids it decided, under its key). */
  readonly idBucketsDeleted: number;
}

export interface OnlineEraser {
  /**
   * Deletes each key's id buckets of the seconds of `eventTimes` (the entity's event times: a bucket
   * holds the ids of one second of them), then its item.
   */
  erase(keys: readonly EntityKey[], eventTimes: readonly number[]): Promise<OnlineErased[]>;
}

export interface DynamoDbOnlineEraserProps {
  readonly tableName: string;
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
}

export class DynamoDbOnlineEraser implements OnlineEraser {
  #client?: DynamoDBClient;
  constructor(private readonly props: DynamoDbOnlineEraserProps) {}

  private get client(): DynamoDBClient {
    this.#client ??= this.props.client ?? new DynamoDBClient(this.props.clientConfig ?? {});
    return this.#client;
  }

  async erase(keys: readonly EntityKey[], eventTimes: readonly number[]): Promise<OnlineErased[]> {
    const seconds = [...new Set(eventTimes.map(idBucketStart))];
    const out: OnlineErased[] = [];
    for (const key of keys) {
      // Buckets before the item: the item keeps the move log by which the processor finds buckets
      // until they are gone. (Bucket keys come from the offline rows, which erasure removes only
      // after this step, so a rerun after a failure here finds them again.)
      const buckets = seconds.map((start) => entityItemKey(idBucketKey(key.group, key.entityId, start)));
      const deleted = await mapWithConcurrency(buckets, 16, (pk) =>
        this.delete(pk, `an id bucket of the ${key.group} item`),
      );
      const itemDeleted = await this.delete(entityItemKey(key), `the ${key.group} item`);
      out.push({ itemDeleted, idBucketsDeleted: deleted.filter(Boolean).length });
    }
    return out;
  }

  /** True if the item was there. Nothing of it comes back: the condition alone tells. */
  private async delete(pk: string, what: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.props.tableName,
          Key: { pk: { S: pk } },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw new ErasureError(`delete of ${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
