/**
 * The baseline the lookup API is measured against: Feast's DynamoDB feature server before 2022,
 * which fetched keys one by one and read whole items. Here: one GetItem per entity per group, in
 * sequence, no ProjectionExpression, eventually consistent (GetItem's default, as ours), straight
 * from the DynamoDB client (no HTTP hop, no auth: that favours the baseline), and only the
 * requested latest values picked out of the whole item (it computes no windows: favoured again).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';

export interface BaselineRequest {
  /** Per row, the entity ids by entity name (`customer_id`, `merchant_id`). */
  readonly entities: readonly Readonly<Record<string, string>>[];
  /** Per group: its entity name and the features asked for. */
  readonly groups: readonly {
    readonly group: string;
    readonly entity: string;
    readonly features: readonly string[];
  }[];
}

export class SequentialGetItemBaseline {
  readonly #doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.#doc = DynamoDBDocumentClient.from(client);
  }

  /** Rows of `{ "<group>:<feature>": value }`, in request order; timed by the caller. */
  async read(request: BaselineRequest): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    for (const entity of request.entities) {
      const row: Record<string, unknown> = {};
      for (const { group, entity: name, features } of request.groups) {
        const out = await this.#doc.send(
          new GetCommand({ TableName: this.tableName, Key: { pk: `${group}#${entity[name]}` } }),
        );
        for (const f of features) row[`${group}:${f}`] = out.Item?.[f] ?? null;
      }
      rows.push(row);
    }
    return rows;
  }
}
