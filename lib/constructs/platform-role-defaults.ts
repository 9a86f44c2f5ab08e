import { Duration } from 'aws-cdk-lib';

/** Defaults of {@link PlatformRole}. */
export const PLATFORM_ROLE_DEFAULTS = {
  maxSessionDuration: Duration.hours(1),
} as const;
