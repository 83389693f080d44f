import type { Cluster, Redis } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster: every part runs on either. */
export type RedisClient = Redis | Cluster;
