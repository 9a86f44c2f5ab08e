import { count, defineFeatureGroup, latest, window } from './feature-group.js';
import { transaction } from './transaction.contract.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const merchant = defineFeatureGroup({
  name: 'merchant',
  description: 'What the merchant saw last, for merchant risk',
  source: transaction,
  entity: { name: 'merchant_id', field: 'merchantId' },
  ttlMs: 7 * DAY,
  allowedLatenessMs: 1 * HOUR,
  features: {
    last_amount_minor: latest('amountMinor', 'amount of the latest transaction, minor units'),
    last_currency: latest('currency', 'currency of the latest transaction'),
    last_channel: latest('channel', 'channel of the latest transaction'),
    last_customer_country: latest('country', 'card holder country of the latest transaction'),
    txn_count: count(['5m', '1h', '24h'], 'number of transactions'),
    amount_sum: window('sum', 'amountMinor', ['1h', '24h'], 'total amount, minor units'),
    amount_mean: window('mean', 'amountMinor', ['24h'], 'mean amount, minor units'),
  },
});
