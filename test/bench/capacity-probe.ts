/**
 * What DynamoDB Local reports as ConsumedCapacity for writes of known sizes, so the cost figures can
 * be read against DynamoDB's billing rules: a write unit per 1 KB (1,024 bytes) of item, rounded up;
 * an UpdateItem billed on the larger of the item before and after; a write whose condition fails
 * still billed (developer guide, "Capacity unit consumption for write operations").
 */
import { type DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { itemBytes } from './dynamodb-meter.js';

export interface CapacityProbe {
  /** Item bytes (DynamoDB's rules) -> units reported for a PutItem of an item that size. */
  readonly put: Record<string, number | null>;
  /** Units for an UpdateItem that SETs one small attribute of a 10,000-byte item. */
  readonly updateSmallOn10kItem: number | null;
  /** Units for an UpdateItem that ADDs 1 to a counter of a 100-byte item. */
  readonly updateAddOn100ByteItem: number | null;
  /** Whether a PutItem whose condition fails reports consumed capacity (on the error). */
  readonly failedConditionReportsUnits: boolean;
  /** What a PutItem of an item over 400 KB gets. */
  readonly putOver400KB: string;
  /** True when every PutItem reported ceil(bytes / 1024) units. */
  readonly matchesOneUnitPerKB: boolean;
}

const paddedItem = (pk: string, bytes: number) => {
  const base = { pk: { S: pk }, pad: { S: '' } };
  return { ...base, pad: { S: 'x'.repeat(Math.max(0, bytes - itemBytes(base))) } };
};

export async function probeCapacity(client: DynamoDBClient, table: string): Promise<CapacityProbe> {
  const units = (out: { ConsumedCapacity?: { CapacityUnits?: number } }) =>
    out.ConsumedCapacity?.CapacityUnits ?? null;
  const put: Record<string, number | null> = {};
  let matches = true;
  for (const bytes of [100, 1000, 1024, 1025, 1100, 2500, 10_000, 100_000]) {
    const item = paddedItem(`probe#${bytes}`, bytes);
    const out = await client.send(
      new PutItemCommand({ TableName: table, Item: item, ReturnConsumedCapacity: 'TOTAL' }),
    );
    put[`${itemBytes(item)}B`] = units(out);
    if (units(out) !== Math.ceil(itemBytes(item) / 1024)) matches = false;
  }
  const updateSmallOn10kItem = units(
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'probe#10000' } },
        UpdateExpression: 'SET flag = :f',
        ExpressionAttributeValues: { ':f': { BOOL: true } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    ),
  );
  const updateAddOn100ByteItem = units(
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'probe#100' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    ),
  );
  let failedConditionReportsUnits = false;
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: paddedItem('probe#100', 100),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  } catch (error) {
    failedConditionReportsUnits = (error as { ConsumedCapacity?: unknown }).ConsumedCapacity !== undefined;
  }
  let putOver400KB = 'accepted';
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: paddedItem('probe#big', 410_000),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  } catch (error) {
    putOver400KB = `${(error as Error).name}: ${(error as Error).message}`.slice(0, 120);
  }
  return {
    put,
    updateSmallOn10kItem,
    updateAddOn100ByteItem,
    failedConditionReportsUnits,
    putOver400KB,
    matchesOneUnitPerKB: matches,
  };
}
