import { Duration } from 'aws-cdk-lib';
import { STREAM_SOURCE_DEFAULTS } from '../platform-spec.js';

/** Defaults of {@link StreamEventSource}; the mapping settings are the platform spec's. */
export const STREAM_EVENT_SOURCE_DEFAULTS = {
  settings: STREAM_SOURCE_DEFAULTS,
  iteratorAgeAlarmThreshold: Duration.seconds(60),
  iteratorAgeAlarmEvaluationPeriods: 5,
} as const;
