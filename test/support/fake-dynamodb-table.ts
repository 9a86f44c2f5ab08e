/**
 * A DynamoDB table behind aws-sdk-client-mock for the DynamoDB adapters: BatchGet and conditional
 * Put as DynamoDB answers them, with its 400 KB item limit (a ValidationException), and items it
 * refuses outright if told (a ValidationException too: what DynamoDB answers for an item it will
 * never take).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

/** DynamoDB's item size limit. */
export const ITEM_LIMIT = 400 * 1024;
/** DynamoDB's item size: names, UTF-8 strings, binaries, numbers by significant digits, 1 per boolean. */
export function itemSize(item: Record<string, unknown>): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) {
    n += Buffer.byteLength(name);
    if (typeof v === 'string') n += Buffer.byteLength(v);
    else if (v instanceof Uint8Array) n += v.byteLength;
    else if (typeof v === 'number') n += Math.ceil(String(v).replace(/^-?0*/, '').length / 2) + 1;
    else n += 1;
  }
  return n;
}

/** `refuse` is asked at every put: a test may stop refusing (the cause fixed). */
export function fakeTable(options: { readonly refuse?: (pk: string) => boolean } = {}) {
  const items = new Map<string, Record<string, unknown>>();
  const ddb = mockClient(DynamoDBDocumentClient);
  const err = (name: string, message: string) => Object.assign(new Error(message), { name });
  ddb.on(BatchGetCommand).callsFake((input) => {
    const [table, req] = Object.entries(input.RequestItems ?? {})[0] as [string, { Keys: { pk: string }[] }];
    const found = req.Keys.map((k) => items.get(k.pk)).filter((x) => x !== undefined);
    return { Responses: { [table]: structuredClone(found) }, UnprocessedKeys: {} };
  });
  ddb.on(PutCommand).callsFake((input) => {
    const item = structuredClone(input.Item) as Record<string, unknown>;
    const pk = item.pk as string;
    const old = items.get(pk);
    if (input.ConditionExpression === 'attribute_not_exists(pk)') {
      if (old) throw err('ConditionalCheckFailedException', 'The conditional request failed');
    } else if (old?.version !== input.ExpressionAttributeValues?.[':v'])
      throw err('ConditionalCheckFailedException', 'The conditional request failed');
    if (options.refuse?.(pk))
      throw err('ValidationException', 'One or more parameter values were invalid: refused by the test');
    if (itemSize(item) > ITEM_LIMIT)
      throw err('ValidationException', 'Item size has exceeded the maximum allowed size');
    items.set(pk, item);
    return {};
  });
  ddb.on(UpdateCommand).callsFake(() => ({}));
  return {
    ddb,
    items,
    client: new DynamoDBClient({
      region: 'me-central-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    }),
  };
}
