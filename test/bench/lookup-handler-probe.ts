/**
 * Child process of lookup-handler.ts: measures the handler overhead with the environment its parent
 * gave it (audit log at INFO) and sends the figures back over IPC. `argv[2]`: the request time (ms).
 */
import { measureHandlerOverhead } from './lookup-handler.js';

const now = Number(process.argv[2]);
if (!process.send || !Number.isFinite(now)) throw new Error('run by lookup-handler.ts (fork, with a time)');
const result = await measureHandlerOverhead(now);
process.send(result, () => process.disconnect());
