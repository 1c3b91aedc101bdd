export { Delivery, decodePayload, encodeWithBinary, type DropReporter, type Fanout, type FanoutCodec, type FanoutListener } from './fanout';
export { MemoryFanout } from './memory.fanout';
export { RedisFanout } from './redis.fanout';
export { Coalescer, DEFAULT_COALESCE_INTERVAL_MS, systemTimers, type CoalescerOptions, type TimerScheduler } from './coalescer';
