import { lookup } from 'node:dns';
import type { DNSLookupFunction } from 'ioredis';

/**
 * A DNS lookup for a Redis Cluster client's seeds that never fails a (re)connect over one seed.
 *
 * ioredis resolves every seed hostname each time it connects, and one name that does not resolve
 * fails the whole connect, again and again: in compose or Kubernetes a killed Redis node's name
 * disappears from DNS, so after a failover the client would never come back although the rest of
 * the cluster is up. Here a name that does not resolve gives its last known address (or the
 * name itself): that one seed then fails on its own, and the slots map is read from another.
 */
export function seedLookup(): DNSLookupFunction {
  const known = new Map<string, string>();
  return (hostname, callback) => {
    lookup(hostname, (error, address, family) => {
      if (error === null) {
        known.set(hostname, address);
        callback(null, address, family);
        return;
      }
      callback(null, known.get(hostname) ?? hostname);
    });
  };
}
