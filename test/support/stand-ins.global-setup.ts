import type { TestProject } from 'vitest/node';
import { type StandInEndpoints, startStandIns } from '../../local/stand-ins.js';

declare module 'vitest' {
  export interface ProvidedContext {
    standIns: StandInEndpoints;
  }
}

/** Starts the stand-ins once for the whole integration run; each test file uses its own resource names. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const standIns = await startStandIns();
  project.provide('standIns', standIns.endpoints);
  return () => standIns.stop();
}
