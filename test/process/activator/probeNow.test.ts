// A pod the activator probes on a timer while it is not ready is probed again at once when it
// says it is ready (its queue-proxy's announce), rather than at its next interval. The throttler
// runs in this process on a clock that never moves, so only the announce can bring the second
// probe; the pod is a real HTTP server on loopback that answers the probe once told to.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RevisionThrottler } from '../../../activator/throttler.ts';
import { createLogger } from '../../../lib/log.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

async function until(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !check(); attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!check()) throw new Error(`never happened: ${what}`);
}

describe('activator: probing a pod that says it is ready', () => {
  let server: Server | undefined;
  let throttler: RevisionThrottler | undefined;
  afterEach(async () => {
    await throttler?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('probes it at once instead of at its next interval, as often as it is told while it is not healthy', async () => {
    let ready = false;
    const probes: string[] = [];
    server = createServer((req, res) => {
      probes.push(String(req.headers['k-network-probe']));
      if (ready) res.writeHead(200).end('queue');
      else res.writeHead(503).end('not ready');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const healthy: string[] = [];
    throttler = new RevisionThrottler('ns/rev', 0, {
      queueDepth: 10,
      clock: new FakeClock(),
      log: createLogger('test'),
      random: () => 0,
      events: { podHealthy: (_revision, pod) => healthy.push(pod), servingModeChanged() {} },
    });

    throttler.setPods([address], undefined, [address]);
    await until('the first probe failed', () => probes.length === 1 && throttler!.readyPods === 0);
    // Still failing: the announce brings one more probe, and the timer's is not doubled.
    throttler.probeNow(address);
    await until('a second probe', () => probes.length === 2);
    ready = true;
    throttler.probeNow(address);
    await until('the pod healthy', () => healthy.length === 1);
    expect(healthy).toEqual([address]);
    expect(probes).toEqual(['queue', 'queue', 'queue']);
    // Healthy, or unknown: nothing more to probe.
    throttler.probeNow(address);
    throttler.probeNow('127.0.0.1:1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(probes).toHaveLength(3);
  });
});
