/**
 * Write metering for the cost benchmark: a middleware on a DynamoDB client that records, per write
 * request, the capacity DynamoDB reported (ReturnConsumedCapacity) and the size of the item sent,
 * and the item size rules DynamoDB bills by (developer guide, "Item sizes and formats").
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { numberBytes } from '../../lambdas/adapters/dynamodb-entity-store.js';

/**
 * An item's size as DynamoDB counts it: attribute names plus values. Strings and binaries by their
 * bytes; numbers about one byte per two significant digits plus one; booleans and nulls one byte;
 * lists and maps 3 bytes plus one per element plus their contents.
 */
export function itemBytes(item: Record<string, AttributeValue>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) total += Buffer.byteLength(name) + valueBytes(value);
  return total;
}

function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberBytes(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((a, s) => a + Buffer.byteLength(s), 0);
  if (v.NS) return v.NS.reduce((a, s) => a + numberBytes(s), 0);
  if (v.L) return 3 + v.L.reduce((a, e) => a + 1 + valueBytes(e), 0);
  if (v.M)
    return 3 + Object.entries(v.M).reduce((a, [k, e]) => a + 1 + Buffer.byteLength(k) + valueBytes(e), 0);
  return 0;
}

export interface WriteRecord {
  readonly command: string;
  readonly table: string;
  /** Capacity units DynamoDB reported; undefined when it reported none (e.g. a failed condition). */
  readonly units: number | undefined;
  /** The item's partition key value (`pk` or `id`). */
  readonly key: string;
  /** For PutItem: the size of the item sent. */
  readonly itemBytes?: number;
  readonly conditionFailed: boolean;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/** Records every write request sent through the client, and the keys it reads (attach once per client). */
export class WriteMeter {
  readonly writes: WriteRecord[] = [];
  /** The partition key of every item asked for by BatchGetItem. */
  readonly reads: string[] = [];
  /** Read capacity units DynamoDB reported for BatchGetItem (where the request asked for them). */
  readUnits = 0;

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '');
        if (command === 'BatchGetItemCommand') {
          const requests = (
            args.input as { RequestItems?: Record<string, { Keys?: Record<string, AttributeValue>[] }> }
          ).RequestItems;
          for (const { Keys } of Object.values(requests ?? {}))
            for (const k of Keys ?? []) this.reads.push(k.pk?.S ?? k.id?.S ?? '');
          const out = await next(args);
          const consumed = (out.output as { ConsumedCapacity?: { CapacityUnits?: number }[] })
            .ConsumedCapacity;
          for (const c of consumed ?? []) this.readUnits += c.CapacityUnits ?? 0;
          return out;
        }
        if (!WRITES.has(command)) return next(args);
        const input = args.input as {
          TableName?: string;
          Item?: Record<string, AttributeValue>;
          Key?: Record<string, AttributeValue>;
        };
        const keyed = input.Item ?? input.Key ?? {};
        const base = {
          command,
          table: input.TableName ?? '',
          key: keyed.pk?.S ?? keyed.id?.S ?? '',
          ...(input.Item ? { itemBytes: itemBytes(input.Item) } : {}),
        };
        try {
          const out = await next(args);
          const consumed = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
          this.writes.push({ ...base, units: consumed?.CapacityUnits, conditionFailed: false });
          return out;
        } catch (error) {
          const failed = (error as { name?: string }).name === 'ConditionalCheckFailedException';
          this.writes.push({ ...base, units: undefined, conditionFailed: failed });
          throw error;
        }
      },
      // After serialisation: the input is in DynamoDB's wire shape (the Document client marshals before it).
      { step: 'build', name: 'benchWriteMeter' },
    );
  }

  /** Writes recorded from `from` on (an index into `writes`). */
  since(from: number): WriteRecord[] {
    return this.writes.slice(from);
  }
}
