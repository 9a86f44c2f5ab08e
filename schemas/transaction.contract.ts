import { z } from 'zod';
import { defineContract } from './contract.js';

/** Identifier shapes shared by the contract and the lookup API's path validation. */
export const customerId = z
  .string()
  .regex(/^cus_[A-Za-z0-9]{4,32}$/, 'must look like cus_<4-32 letters or digits>');
export const merchantId = z
  .string()
  .regex(/^mer_[A-Za-z0-9]{4,32}$/, 'must look like mer_<4-32 letters or digits>');

/** Currencies the bank settles; a valid ISO code outside this list is a data-quality violation. */
export const SETTLED_CURRENCIES = ['AED', 'USD', 'EUR', 'SAR', 'GBP', 'INR'] as const;

const v1 = z.strictObject({
  eventId: z
    .string()
    .min(8)
    .max(128)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'must be URL-safe'),
  customerId,
  merchantId,
  amountMinor: z.int().min(0).max(1_000_000_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
  channel: z.enum(['pos', 'ecommerce', 'atm', 'wallet']),
  customerEmail: z.email(),
  eventTime: z.iso.datetime({ offset: true }),
});

/** v2 adds the merchant category code and whether the card was present (both optional: closed and backward compatible). */
const v2 = v1.extend({
  mcc: z
    .string()
    .regex(/^\d{4}$/, 'must be a 4-digit ISO 18245 merchant category code')
    .optional(),
  cardPresent: z.boolean().optional(),
});

/**
 * A card payment, as the payments switch emits it. Amounts are in minor units (fils, cents) so no
 * float ever touches money.
 */
export const transaction = defineContract({
  name: 'transaction',
  version: 2,
  description: 'A card payment authorised by the switch',
  schema: v2,
  previousVersions: [
    {
      version: 1,
      schema: v1,
      // v1 producers did not send cardPresent; point of sale and ATM payments are card-present.
      upgrade: (e) => ({ ...e, cardPresent: e.channel === 'pos' || e.channel === 'atm' }),
    },
  ],
  compatibility: 'BACKWARD',
  eventIdField: 'eventId',
  eventTimeField: 'eventTime',
  partitionKeyField: 'customerId',
  classification: {
    eventId: 'public',
    customerId: 'confidential',
    merchantId: 'public',
    amountMinor: 'confidential',
    currency: 'public',
    country: 'confidential',
    channel: 'public',
    customerEmail: 'pii',
    eventTime: 'public',
    mcc: 'public',
    cardPresent: 'public',
  },
  rules: [
    {
      name: 'amount-limit',
      description: 'amountMinor is at most 50,000,000 (500,000.00 in major units)',
      check: (e) => e.amountMinor <= 50_000_000,
    },
    {
      name: 'settled-currency',
      description: `currency is one the bank settles (${SETTLED_CURRENCIES.join(', ')})`,
      check: (e) => (SETTLED_CURRENCIES as readonly string[]).includes(e.currency),
    },
  ],
  maxFutureSkewMs: 5 * 60_000,
});
