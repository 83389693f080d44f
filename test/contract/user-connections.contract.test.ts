import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { waitFor } from '../support/wait.js';

/** The per-user connection limit's contract, the same on every backend. */
let users = 0;
const freshUser = () => `contract-user-${process.pid}-${++users}`;

describe.each(BACKENDS)('user connections on $name', (factory) => {
  beforeAll(() => factory.start());
  afterAll(() => factory.stop());

  const ready = async (maxConnectionsPerUser: number) => {
    const backend = factory.make({ maxConnectionsPerUser });
    await waitFor(() => backend.isReady(), { what: 'backend ready' });
    return backend;
  };

  it('lets a user hold up to the limit, and one more once one is released', async () => {
    const { userConnections } = await ready(2);
    const user = freshUser();
    expect(await userConnections.acquire(user)).toBe(true);
    expect(await userConnections.acquire(user)).toBe(true);
    expect(await userConnections.acquire(user)).toBe(false);
    expect(await userConnections.acquire(freshUser())).toBe(true);
    userConnections.release(user);
    await waitFor(
      async () => {
        if (!(await userConnections.acquire(user))) return false;
        return true;
      },
      { what: 'a released connection' },
    );
    expect(await userConnections.acquire(user)).toBe(false);
  });

  it('has no limit at 0', async () => {
    const { userConnections } = await ready(0);
    const user = freshUser();
    for (let i = 0; i < 50; i++) expect(await userConnections.acquire(user)).toBe(true);
  });

  if (factory.shared) {
    it('counts across nodes, and forgets a node that is gone', async () => {
      const [a, b] = [await ready(2), await ready(2)];
      const user = freshUser();
      expect(await a.userConnections.acquire(user)).toBe(true);
      expect(await b.userConnections.acquire(user)).toBe(true);
      expect(await a.userConnections.acquire(user)).toBe(false);
      expect(await b.userConnections.acquire(user)).toBe(false);
      await b.close();
      // Within a heartbeat of the other nodes (3 s).
      await waitFor(() => a.userConnections.acquire(user), { what: "b's connections dropped" });
      expect(await a.userConnections.acquire(user)).toBe(false);
    });
  }
});
