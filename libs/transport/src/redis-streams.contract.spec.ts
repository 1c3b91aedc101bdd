import { redisHarness } from './test/harness';
import { transportContract } from './test/transport.contract';

transportContract('Redis Streams', redisHarness());
