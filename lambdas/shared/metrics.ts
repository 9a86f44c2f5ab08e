/**
 * Where the processor publishes its record counts (Powertools EMF): the handler writes them, the
 * failed-records alarm (lib/constructs/stream-event-source.ts) reads `RecordsFailed` from them.
 */
export const PROCESSOR_METRICS = { namespace: 'FeaturePlatform', service: 'feature-processor' } as const;
