import { z } from 'zod';
import { defineContract } from './contract.js';

/** Identifier shapes shared by the contract and the lookup API's path validation. */
export const customerId = z
  .string()
  .regex(/^cus_[A-Za-z0-9]{4,32}$/, 'must look like cus_<4-32 letters or digits>');
export const merchantId = z
  .string()
  .regex(/^mer_[A-Za-z0-9]{4,32}$/, 'must look like mer_<4-32 letters or digits>');

/**
 * A card payment, as the payments switch emits it. Amounts are in minor units (fils, cents) so no
 * float ever touches money.
 */
export const transaction = defineContract({
  name: 'transaction',
  version: 1,
  description: 'A card payment authorised by the switch',
  schema: z.strictObject({
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
  }),
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
  },
});
