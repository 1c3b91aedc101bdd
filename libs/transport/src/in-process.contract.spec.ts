import { inProcessHarness } from './test/harness';
import { transportContract } from './test/transport.contract';

transportContract('in-process', inProcessHarness);
