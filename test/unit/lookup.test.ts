import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityKey, EntityStore, LoadOptions } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { createHandler } from '../../lambdas/lookup/handler.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';

const NOW = BASE_TIME + 60_000;
const ROLE = (name: string) => `arn:aws:sts::111111111111:assumed-role/fp-test-${name}/session-1`;
const as = (event: APIGatewayProxyEvent, role: string) =>
  ({
    ...event,
    requestContext: { ...event.requestContext, identity: { userArn: role } },
  }) as APIGatewayProxyEvent;

/** Records every load, to show what each lookup reads. */
class SpyStore extends InMemoryEntityStore {
  readonly loads: { keys: readonly EntityKey[]; options?: LoadOptions }[] = [];
  override load(keys: readonly EntityKey[], options?: LoadOptions) {
    this.loads.push({ keys, ...(options ? { options } : {}) });
    return super.load(keys, options);
  }
}

const request = (
  method: string,
  resource: string,
  extra: Partial<APIGatewayProxyEvent>,
): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
    resource,
    path: resource,
    pathParameters: null,
    queryStringParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'r1', identity: { userArn: ROLE('consumer-fraud-scoring') } },
    ...extra,
  }) as unknown as APIGatewayProxyEvent;

const get = (group: string, entityId: string, features?: string) =>
  request('GET', '/v1/features/{group}/{entityId}', {
    pathParameters: { group, entityId },
    queryStringParameters: features ? { features } : null,
  });
const post = (body: unknown) =>
  request('POST', '/v1/features:get', { body: typeof body === 'string' ? body : JSON.stringify(body) });
// biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary JSON bodies
const parse = (r: APIGatewayProxyResult) => JSON.parse(r.body) as Record<string, any>;

describe('lookup API handler', () => {
  const store = new SpyStore();
  let handler: (e: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  beforeAll(async () => {
    const events = [
      transaction({
        customerId: 'cus_aaaa',
        merchantId: 'mer_xxxx',
        amountMinor: 100,
        eventTime: new Date(BASE_TIME - 60_000).toISOString(),
      }),
      transaction({
        customerId: 'cus_aaaa',
        merchantId: 'mer_yyyy',
        amountMinor: 300,
        eventTime: new Date(BASE_TIME).toISOString(),
      }),
      transaction({
        customerId: 'cus_old1',
        merchantId: 'mer_xxxx',
        amountMinor: 5,
        eventTime: new Date(BASE_TIME - 40 * 86_400_000).toISOString(),
      }),
    ];
    const deps = {
      contracts,
      groupsFedBy,
      entities: store,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
    };
    for (const [i, e] of events.entries())
      await processBatch(inputRecords([envelope(e)], { firstSequence: BigInt(i + 1) * 1000n }), deps);
    handler = createHandler(() => ({
      store: store as EntityStore,
      maxEntities: 3,
      now: () => NOW,
      rolePrefix: 'fp-test',
    }));
  });

  it('answers one entity with latest values, window aggregates, event times and freshness', async () => {
    const res = await handler(get('customer', 'cus_aaaa'));
    const body = parse(res);
    expect(res.statusCode).toBe(200);
    expect(body).toMatchObject({
      group: 'customer',
      entity: { name: 'customer_id', id: 'cus_aaaa' },
      freshnessMs: 60_000,
    });
    expect(body.features.last_amount_minor).toEqual({
      value: 300,
      eventTime: new Date(BASE_TIME).toISOString(),
      status: 'present',
    });
    expect(body.features.txn_count_1h).toEqual({
      value: 2,
      eventTime: new Date(NOW).toISOString(),
      status: 'present',
    });
    expect(body.features.merchant_distinct_24h.value).toBe(2);
    expect(body.features.email).toMatchObject({ value: null, status: 'masked' });
  });

  it('reads only the requested features: no tiles for latest values alone', async () => {
    store.loads.length = 0;
    const body = parse(await handler(get('customer', 'cus_aaaa', 'last_amount_minor,last_channel')));
    expect(Object.keys(body.features)).toEqual(['last_amount_minor', 'last_channel']);
    expect(store.loads[0]?.options).toEqual({ latest: ['last_amount_minor', 'last_channel'], tiles: false });
  });

  it('returns rows in request order across groups, with a status per feature', async () => {
    store.loads.length = 0;
    const res = await handler(
      post({
        features: ['customer:amount_sum_24h', 'merchant:txn_count_24h', 'customer:email'],
        entities: [
          { customer_id: 'cus_none', merchant_id: 'mer_xxxx' },
          { customer_id: 'cus_aaaa', merchant_id: 'mer_yyyy' },
          { customer_id: 'cus_old1', merchant_id: 'mer_xxxx' },
        ],
      }),
    );
    const { rows } = parse(res);
    expect(res.statusCode).toBe(200);
    expect(rows.map((r: { entity: { customer_id: string } }) => r.entity.customer_id)).toEqual([
      'cus_none',
      'cus_aaaa',
      'cus_old1',
    ]);
    expect(rows[0].features['customer:amount_sum_24h']).toEqual({
      value: null,
      eventTime: null,
      status: 'not_found',
    });
    expect(rows[0].features['merchant:txn_count_24h'].value).toBe(1);
    expect(rows[1].features['customer:amount_sum_24h'].value).toBe(400);
    expect(rows[1].features['customer:email'].status).toBe('masked');
    expect(rows[2].features['customer:amount_sum_24h'].status).toBe('expired');
    expect(rows[1].freshnessMs).toEqual({ customer: 60_000, merchant: 60_000 });
    expect(store.loads).toHaveLength(2); // one load per group
  });

  it.each([
    ['a malformed entity id', get('customer', 'bob'), 400, /customer_id is malformed/],
    ['an unknown group', get('account', 'cus_aaaa'), 400, /unknown feature group "account"/],
    ['an unknown feature', get('customer', 'cus_aaaa', 'nope'), 400, /has no feature "nope"/],
    ['an unknown entity', get('customer', 'cus_zzzz'), 404, /no customer features for cus_zzzz/],
    ['an expired entity', get('customer', 'cus_old1'), 404, /older than the group's TTL/],
    [
      'too many entities',
      post({ features: ['customer:txn_count_1h'], entities: Array(4).fill({ customer_id: 'cus_aaaa' }) }),
      400,
      /at most 3 entities/,
    ],
    [
      'a row without the key a group needs',
      post({ features: ['merchant:txn_count_1h'], entities: [{ customer_id: 'cus_aaaa' }] }),
      400,
      /entities\[0\] has no merchant_id/,
    ],
    ['a body that is not JSON', post('{'), 400, /not valid JSON/],
    ['an oversize body', post('x'.repeat(300 * 1024)), 400, /over 256 KiB/],
    [
      'an unknown field in the body',
      post({ features: ['customer:txn_count_1h'], entities: [{ customer_id: 'cus_aaaa' }], extra: 1 }),
      400,
      /Unrecognized key/,
    ],
    ['an unknown route', request('DELETE', '/v1/features/{group}/{entityId}', {}), 404, /no route/],
  ])('answers %s with a problem+json %i', async (_, event, status, detail) => {
    const res = await handler(event);
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(parse(res).detail).toMatch(detail);
  });

  it.each([
    [
      'a role without the group',
      as(get('customer', 'cus_aaaa'), ROLE('consumer-merchant-risk')),
      /may not read feature group\(s\) customer/,
    ],
    [
      'a role without the batch route',
      as(
        post({ features: ['merchant:txn_count_1h'], entities: [{ merchant_id: 'mer_xxxx' }] }),
        ROLE('consumer-merchant-risk'),
      ),
      /missing: batch/,
    ],
    ['a data scientist', as(get('merchant', 'mer_xxxx'), ROLE('data-scientist')), /no feature consumer role/],
    [
      "another deployment's role",
      as(
        get('merchant', 'mer_xxxx'),
        'arn:aws:sts::111111111111:assumed-role/fp-prod-consumer-fraud-scoring/s',
      ),
      /no feature consumer role/,
    ],
  ])('refuses %s with a 403 naming what is missing', async (_, event, detail) => {
    const res = await handler(event);
    expect(res.statusCode).toBe(403);
    expect(parse(res).detail).toMatch(detail);
  });

  it('lets a role read the groups it is declared for', async () => {
    const res = await handler(as(get('merchant', 'mer_xxxx'), ROLE('consumer-merchant-risk')));
    expect(res.statusCode).toBe(200);
  });

  it('answers a store failure with a 500 problem that leaks nothing', async () => {
    const broken = createHandler(() => ({
      store: { load: async () => Promise.reject(new Error('secret internals')), save: async () => [] },
      maxEntities: 100,
      rolePrefix: 'fp-test',
    }));
    const res = await broken(get('customer', 'cus_aaaa'));
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret internals');
  });
});
