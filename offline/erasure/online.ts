/**
 * Deleting an entity's online items (one per group keyed by it, and that group's id buckets of the
 * entity): the port and its DynamoDB adapter.
 */
import {
  DeleteItemCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  paginateScan,
} from '@aws-sdk/client-dynamodb';
import { entityItemKey } from '../../lambdas/adapters/dynamodb-entity-store.js';
import type { EntityKey } from '../../lambdas/core/ports.js';
import { ErasureError } from '../errors.js';

export interface OnlineErased {
  /** Whether there was an item. Deleting a missing item succeeds. */
  readonly itemDeleted: boolean;
  /** Id buckets of the entity deleted (the event ids it decided lately, under its key). */
  readonly idBucketsDeleted: number;
}

export interface OnlineEraser {
  /** Deletes each key's item and its id buckets. */
  erase(keys: readonly EntityKey[]): Promise<OnlineErased[]>;
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

  async erase(keys: readonly EntityKey[]): Promise<OnlineErased[]> {
    const out: OnlineErased[] = [];
    for (const key of keys) {
      const itemDeleted = await this.delete(entityItemKey(key), `the ${key.group} item`);
      // Id buckets are keyed `<group>/ids#<entity id>@<second>`: found by a scan of the keys (an
      // erasure is rare; the processor never needs to list them). Only the key comes into view.
      const prefix = entityItemKey({ group: `${key.group}/ids`, entityId: `${key.entityId}@` });
      let idBucketsDeleted = 0;
      try {
        const pages = paginateScan(
          { client: this.client },
          {
            TableName: this.props.tableName,
            // Explicit, as the key-only Scan permission requires (dynamodb:Select, dynamodb:Attributes).
            Select: 'SPECIFIC_ATTRIBUTES',
            ProjectionExpression: 'pk',
            FilterExpression: 'begins_with(pk, :prefix)',
            ExpressionAttributeValues: { ':prefix': { S: prefix } },
            ConsistentRead: true,
          },
        );
        for await (const page of pages)
          for (const item of page.Items ?? []) {
            if (await this.delete(String(item.pk?.S), `an id bucket of the ${key.group} item`))
              idBucketsDeleted++;
          }
      } catch (error) {
        if (error instanceof ErasureError) throw error;
        throw new ErasureError(`scan for the ${key.group} id buckets failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      out.push({ itemDeleted, idBucketsDeleted });
    }
    return out;
  }

  private async delete(pk: string, what: string): Promise<boolean> {
    try {
      const res = await this.client.send(
        new DeleteItemCommand({
          TableName: this.props.tableName,
          Key: { pk: { S: pk } },
          // Only the key comes back into view, to tell "deleted" from "was not there".
          ReturnValues: 'ALL_OLD',
        }),
      );
      return res.Attributes !== undefined;
    } catch (error) {
      throw new ErasureError(`delete of ${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
