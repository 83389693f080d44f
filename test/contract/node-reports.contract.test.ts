import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterBackend } from '../../src/cluster/cluster-backend.js';
import type { NodeReport } from '../../src/protocol/index.js';
import { BACKENDS } from '../support/backends.js';
import { waitFor } from '../support/wait.js';

/** The node reports' contract, the same on every backend. */
const reportOf =
  (backend: ClusterBackend, node: string, rooms: number) => async (): Promise<NodeReport> => ({
    node,
    instance: backend.instance,
    startedAt: 1,
    reportedAt: Date.now(),
    state: 'ready',
    connections: { total: rooms, websocket: rooms, polling: 0 },
    rooms,
    subscriptions: rooms,
    rates: { published: 0, delivered: 0 },
    topRooms: rooms === 0 ? [] : [{ room: `${node}-room`, members: rooms }],
    roomsTruncated: false,
  });

describe.each(BACKENDS)('node reports on $name', (factory) => {
  beforeAll(() => factory.start());
  afterAll(() => factory.stop());

  const ready = async (nodeId: string) => {
    const backend = factory.make({ nodeId });
    await waitFor(() => backend.isReady(), { what: 'backend ready' });
    return backend;
  };

  it('lists the asking node, fresh, with its rooms', async () => {
    const backend = await ready('rep-a');
    const reports = backend.nodeReports(reportOf(backend, 'rep-a', 2));
    const view = await reports.overview();
    expect(view.node).toBe('rep-a');
    const own = view.nodes.find((node) => node.instance === backend.instance);
    expect(own).toMatchObject({ node: 'rep-a', stale: false, rooms: 2 });
    await backend.close();
  });

  if (factory.shared) {
    it('lists every node, and drops one that closed', async () => {
      const [a, b] = [await ready('rep-b'), await ready('rep-c')];
      const reportsA = a.nodeReports(reportOf(a, 'rep-b', 1));
      b.nodeReports(reportOf(b, 'rep-c', 3));
      const both = await waitFor(
        async () => {
          const view = await reportsA.overview();
          return view.nodes.some((node) => node.instance === b.instance) ? view : undefined;
        },
        { what: "rep-c's report" },
      );
      expect(both.nodes.find((node) => node.instance === b.instance)).toMatchObject({
        node: 'rep-c',
        rooms: 3,
        stale: false,
      });
      await b.close();
      const after = await reportsA.overview();
      expect(after.nodes.some((node) => node.instance === b.instance)).toBe(false);
      await a.close();
    });
  }
});
