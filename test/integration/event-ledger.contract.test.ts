import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbEventLedger } from '../../lambdas/adapters/dynamodb-event-ledger.js';
import { InMemoryEventLedger } from '../../lambdas/adapters/memory.js';
import type { EventLedger } from '../../lambdas/core/ports.js';
import { provisionTestResources } from '../support/aws-resources.js';

const implementations: [string, () => Promise<EventLedger>][] = [
  ['in memory', async () => new InMemoryEventLedger()],
  [
    'DynamoDB',
    async () => {
      const { names, dynamodb } = await provisionTestResources(inject('standIns'));
      return new DynamoDbEventLedger({
        tableName: names.ledgerTable,
        client: dynamodb,
        horizonSeconds: 3600,
      });
    },
  ],
];

describe.each(implementations)('EventLedger contract: %s', (_, create) => {
  let ledger: EventLedger;
  beforeAll(async () => {
    ledger = await create();
  });
  const claim = (eventKey: string, recordId: string) => ({
    eventKey,
    recordId,
    eventTime: 1,
    outcome: 'applied' as const,
  });

  it('gives an event to the first record that claims it', async () => {
    expect(await ledger.claim([claim('transaction#e1', 'shard-0:1')])).toEqual(['claimed']);
  });

  it('lets the owning record claim again, as on redelivery', async () => {
    await ledger.claim([claim('transaction#e2', 'shard-0:2')]);
    expect(await ledger.claim([claim('transaction#e2', 'shard-0:2')])).toEqual(['claimed']);
  });

  it('names the owner when another record carries the same event', async () => {
    await ledger.claim([claim('transaction#e3', 'shard-0:3')]);
    expect(await ledger.claim([claim('transaction#e3', 'shard-1:9')])).toEqual([
      { duplicateOf: 'shard-0:3' },
    ]);
  });

  it('answers each claim of a batch in request order', async () => {
    await ledger.claim([claim('transaction#e4', 'shard-0:4')]);
    const got = await ledger.claim([
      claim('transaction#e5', 'shard-0:5'),
      claim('transaction#e4', 'shard-0:6'),
    ]);
    expect(got).toEqual(['claimed', { duplicateOf: 'shard-0:4' }]);
  });
});
