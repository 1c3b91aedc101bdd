export { type Fanout, type FanoutListener, type FanoutMessage } from './fanout';
export { MemoryFanout } from './memory.fanout';
export { RedisFanout } from './redis.fanout';
