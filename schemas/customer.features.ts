import { count, defineFeatureGroup, latest, window } from './feature-group.js';
import { transaction } from './transaction.contract.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const customer = defineFeatureGroup({
  name: 'customer',
  description: 'What the card holder did last, for fraud scoring',
  source: transaction,
  entity: { name: 'customer_id', field: 'customerId' },
  ttlMs: 30 * DAY,
  allowedLatenessMs: 1 * HOUR,
  features: {
    last_amount_minor: latest('amountMinor', 'amount of the latest transaction, minor units'),
    last_currency: latest('currency', 'currency of the latest transaction'),
    last_country: latest('country', 'country of the latest transaction'),
    last_channel: latest('channel', 'channel of the latest transaction'),
    last_merchant_id: latest('merchantId', 'merchant of the latest transaction'),
    email: latest('customerEmail', 'contact e-mail on the latest transaction (PII)'),
    last_card_present: latest('cardPresent', 'whether the card was present in the latest transaction'),
    txn_count: count(['5m', '1h', '24h', '7d'], 'number of transactions'),
    amount_sum: window('sum', 'amountMinor', ['1h', '24h', '7d'], 'total amount, minor units'),
    amount_mean: window('mean', 'amountMinor', ['24h', '7d'], 'mean amount, minor units'),
    amount_min: window('min', 'amountMinor', ['24h'], 'smallest amount, minor units'),
    amount_max: window('max', 'amountMinor', ['24h'], 'largest amount, minor units'),
    merchant_distinct: window('distinct', 'merchantId', ['24h', '7d'], 'number of distinct merchants'),
    channel_last: window('last', 'channel', ['1h'], 'channel of the latest transaction in the window'),
  },
});
