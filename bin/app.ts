#!/usr/bin/env node
/**
 * The CDK app: `cdk synth` (all environments) or `cdk deploy -c env=prod --all`. Every synth runs
 * the residency check and cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs (lib/compliance.ts);
 * an unacknowledged finding or a resource outside the environment's regions fails it.
 */
import { App } from 'aws-cdk-lib';
import { buildPlatform } from '../lib/app-builder.js';

const app = new App();
buildPlatform(app);
app.synth();
