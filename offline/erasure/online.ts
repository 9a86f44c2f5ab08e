/** Deleting an entity's online items (one per group keyed by it): the port and its DynamoDB adapter. */
import { DeleteItemCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { entityItemKey } from '../../lambdas/adapters/dynamodb-entity-store.js';
import type { EntityKey } from '../../lambdas/core/ports.js';
import { ErasureError } from '../errors.js';

export interface OnlineEraser {
  /** Deletes each key's item; per key, whether there was one. Deleting a missing item succeeds. */
  erase(keys: readonly EntityKey[]): Promise<boolean[]>;
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

  async erase(keys: readonly EntityKey[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const key of keys) {
      try {
        const res = await this.client.send(
          new DeleteItemCommand({
            TableName: this.props.tableName,
            Key: { pk: { S: entityItemKey(key) } },
            // Only the key comes back into view, to tell "deleted" from "was not there".
            ReturnValues: 'ALL_OLD',
          }),
        );
        out.push(res.Attributes !== undefined);
      } catch (error) {
        throw new ErasureError(`delete of the ${key.group} item failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return out;
  }
}
