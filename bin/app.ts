#!/usr/bin/env node
/** The CDK app: `cdk synth` (all environments) or `cdk deploy -c env=prod --all`. */
import { App } from 'aws-cdk-lib';
import { buildPlatform } from '../lib/app-builder.js';

const app = new App();
buildPlatform(app);
app.synth();
