import type { KinesisStreamRecord } from 'aws-lambda';
import type { InputRecord } from '../core/decode.js';

/** Lambda's Kinesis record -> the core's record. `eventID` is `<shardId>:<sequenceNumber>`. */
export function toInputRecord(r: KinesisStreamRecord): InputRecord {
  const shardId = r.eventID.slice(0, r.eventID.lastIndexOf(':'));
  return {
    recordId: `${shardId}:${r.kinesis.sequenceNumber}`,
    shardId,
    sequenceNumber: r.kinesis.sequenceNumber,
    partitionKey: r.kinesis.partitionKey,
    arrivalTime: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
    data: r.kinesis.data,
  };
}
