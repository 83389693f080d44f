import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { waitFor } from '../support/wait.js';

/** The rate store's contract, the same on every backend. */
let names = 0;
const freshName = () => `contract-rate-${process.pid}-${++names}`;

describe.each(BACKENDS)('rate store on $name', (factory) => {
  beforeAll(() => factory.start());
  afterAll(() => factory.stop());

  const ready = async () => {
    const backend = factory.make();
    await waitFor(() => backend.isReady(), { what: 'backend ready' });
    return backend;
  };

  it('lets a key through its rate per second, then says when to retry; keys count apart', async () => {
    const limiter = (await ready()).rateStore.limiter(freshName(), 3);
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limiter.consume('key-a'));
    expect(verdicts.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    const refused = verdicts[3];
    expect(refused?.allowed).toBe(false);
    if (refused?.allowed === false) {
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
    }
    expect(await limiter.consume('key-b')).toEqual({ allowed: true });
  });

  it('gives a key its budget again after a second', async () => {
    const limiter = (await ready()).rateStore.limiter(freshName(), 1);
    expect(await limiter.consume('k')).toEqual({ allowed: true });
    expect((await limiter.consume('k')).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await limiter.consume('k')).toEqual({ allowed: true });
  });

  if (factory.shared) {
    it('counts one budget per key across nodes', async () => {
      const name = freshName();
      const [a, b] = [
        (await ready()).rateStore.limiter(name, 2),
        (await ready()).rateStore.limiter(name, 2),
      ];
      expect(await a.consume('shared')).toEqual({ allowed: true });
      expect(await b.consume('shared')).toEqual({ allowed: true });
      expect((await a.consume('shared')).allowed).toBe(false);
      expect((await b.consume('shared')).allowed).toBe(false);
    });
  }
});
