import { randomBytes } from 'node:crypto';

/** A resource prefix unique to one test, so test files can share the stand-ins without colliding. */
export const uniquePrefix = (label = 't'): string => `${label}-${randomBytes(4).toString('hex')}`;
