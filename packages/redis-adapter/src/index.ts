export { checkEnvelope, createRedisAdapter, ENVELOPE_VERSION, type RedisAdapterOptions } from './redis-adapter.js'
