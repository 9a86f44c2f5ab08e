/**
 * Event ledger on DynamoDB: item `pk = event#<contract>#<eventId>` owned by the record that first
 * claimed it. The claim is one conditional PutItem, `attribute_not_exists(pk) OR record_id = :r`,
 * which the owning record passes again on redelivery and any other record fails.
 */
import {
  DynamoDBClient as Client,
  type DynamoDBClient,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, EventClaim, EventLedger } from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, isConditionalCheckFailed, LedgerError } from './errors.js';

export interface DynamoDbEventLedgerProps {
  readonly tableName: string;
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
  /** How long a claim is remembered (TTL), i.e. how late a duplicate is still recognised. */
  readonly horizonSeconds: number;
  /** Claims in flight at once. @default 32 */
  readonly concurrency?: number;
  readonly now?: () => number;
}

export const ledgerKey = (eventKey: string): string => `event#${eventKey}`;

export class DynamoDbEventLedger implements EventLedger {
  #doc?: DynamoDBDocumentClient;
  constructor(private readonly props: DynamoDbEventLedgerProps) {}

  private get doc(): DynamoDBDocumentClient {
    this.#doc ??= DynamoDBDocumentClient.from(this.props.client ?? new Client(this.props.clientConfig ?? {}));
    return this.#doc;
  }

  claim(claims: readonly EventClaim[]): Promise<ClaimResult[]> {
    return mapWithConcurrency(claims, this.props.concurrency ?? 32, (c) => this.claimOne(c));
  }

  private async claimOne(c: EventClaim): Promise<ClaimResult> {
    const now = (this.props.now ?? Date.now)();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.props.tableName,
          Item: {
            pk: ledgerKey(c.eventKey),
            record_id: c.recordId,
            event_time: c.eventTime,
            outcome: c.outcome,
            claimed_at: now,
            expires_at: Math.ceil(now / 1000) + this.props.horizonSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR record_id = :r',
          ExpressionAttributeValues: { ':r': c.recordId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'claimed';
    } catch (error) {
      if (isConditionalCheckFailed(error)) {
        const owner = (error as { Item?: { record_id?: { S?: string } } }).Item?.record_id?.S;
        return { duplicateOf: owner ?? 'another record' };
      }
      return {
        failed: new LedgerError(`claim of ${c.eventKey} failed: ${asError(error).message}`, 'ledger', {
          cause: error,
        }),
      };
    }
  }
}
