// queue-proxy announces its pod to the activator once the user container is ready: a revision at
// zero whose pod no source lists yet gets its held requests as soon as the announced pod answers
// the activator's probe. And the announce port refuses what a hostile client sends: a wrong
// token, another revision's token, an unknown revision, a malformed or oversized body, a client
// too slow to finish its request. Real processes on loopback: the activator with its static
// source and a key file, queue-proxy, the sample app.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startQueueProxyFor,
  type ActivatorProc,
} from '../../../harness/activator.ts';
import { startSampleApp, waitForLine, type Proc } from '../../../harness/processes.ts';
import { announceToken } from '../../../lib/announce.ts';

const KEY = Buffer.alloc(32, 42);
const HELD = 5;

describe('activator: pods announced by their queue-proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'announce-'));
  const keyFile = join(dir, 'key');
  let activator: ActivatorProc;
  const procs: Proc[] = [];
  const client = new Agent({ connections: HELD + 5 });
  const post = (body: string | object, headers: Record<string, string> = {}) =>
    request(`http://127.0.0.1:${activator.announcePort}/announce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() }));

  beforeAll(async () => {
    writeFileSync(keyFile, KEY);
    activator = await startActivator(['--announce-key-file', keyFile]);
  });
  afterAll(async () => {
    await client.destroy();
    for (const proc of procs.reverse()) await proc.stop();
    await activator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards held requests to an announced pod no source lists, once it answers its probe', async () => {
    const ports = await reservePodPorts();
    await putRevision(activator, 'announced-00001', {
      containerConcurrency: 0,
      pods: [],
      announcePort: ports.queuePort,
    });
    const answers = Promise.all(
      Array.from({ length: HELD }, (_, i) => send(activator, client, 'announced-00001', `/req/${i}`)),
    );
    await eventually('requests held', async () => (await heldRequests(activator, 'announced-00001')) === HELD);

    const queueProxy = await startQueueProxyFor(ports, {
      SERVING_REVISION: 'announced-00001',
      ACTIVATOR_ANNOUNCE_HOST: '127.0.0.1',
      ACTIVATOR_ANNOUNCE_TOKEN: announceToken(KEY, 'default', 'announced-00001'),
      QUEUE_ANNOUNCE_PORT: String(activator.announcePort),
    });
    procs.push(queueProxy);
    procs.push(await startSampleApp({ PORT: String(ports.appPort) }));

    const results = await answers;
    expect(results.map((r) => r.status)).toEqual(Array(HELD).fill(200));
    const announced = await waitForLine(queueProxy, (l) => l.message === 'announced the pod to the activators');
    expect(announced.answers).toEqual(['127.0.0.1: 202']);
    expect(activator.lines.find((l) => l.message === 'pod announced')).toMatchObject({
      revision: 'default/announced-00001',
      pod: ports.address,
    });
    expect(activator.lines.find((l) => l.message === 'probing a new pod')).toMatchObject({
      revision: 'default/announced-00001',
      pod: ports.address,
      endpointReady: false,
    });
  });

  it('refuses wrong tokens, other revisions, unknown revisions, malformed and oversized bodies, other paths', async () => {
    await putRevision(activator, 'target-00001', { containerConcurrency: 0, pods: [], announcePort: 1 });
    const token = (revision: string) => announceToken(KEY, 'default', revision);
    const announce = (revision: string, t: string) => post({ namespace: 'default', revision, token: t });

    expect(await announce('target-00001', announceToken(Buffer.alloc(32, 1), 'default', 'target-00001'))).toEqual({
      status: 403,
      body: 'forbidden',
    });
    expect(await announce('target-00001', token('other-00001'))).toEqual({ status: 403, body: 'forbidden' });
    expect(await announce('unknown-00001', token('unknown-00001'))).toEqual({ status: 404, body: 'unknown revision' });
    expect(await post('{"namespace": "default"')).toEqual({ status: 400, body: 'malformed' });
    expect(await post({ namespace: 'default', revision: 'target-00001', token: 7 })).toEqual({
      status: 400,
      body: 'malformed',
    });
    const padded = {
      namespace: 'default',
      revision: 'target-00001',
      token: token('target-00001'),
      pad: 'x'.repeat(2000),
    };
    expect(await post(padded)).toEqual({ status: 413, body: 'too large' });
    const res = await request(`http://127.0.0.1:${activator.announcePort}/announce`);
    expect(res.statusCode).toBe(404);
    await res.body.dump();
    // The data port knows nothing of announces: the revision is not a revision there.
    const data = await request(`http://127.0.0.1:${activator.port}/announce`, {
      method: 'POST',
      body: JSON.stringify({ namespace: 'default', revision: 'target-00001', token: token('target-00001') }),
    });
    expect(data.statusCode).not.toBe(202);
    await data.body.dump();

    expect(
      activator.lines.filter((l) => l.message === 'pod announced' && l.revision === 'default/target-00001'),
    ).toEqual([]);
    // The right token for the right revision is taken, from the connection's address.
    expect(await announce('target-00001', token('target-00001'))).toEqual({ status: 202, body: 'accepted' });
    expect(await announce('target-00001', token('target-00001'))).toEqual({ status: 200, body: 'known' });
    await waitForLine(activator, (l) => l.message === 'probing a new pod' && l.pod === '127.0.0.1:1');
  });

  it('closes a connection whose request does not arrive in time', async () => {
    const socket = connect(activator.announcePort, '127.0.0.1');
    socket.write('POST /announce HTTP/1.1\r\nhost: x\r\n');
    const closed = await new Promise<string>((resolve) => {
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('error', () => {});
      socket.on('close', () => resolve(received));
      setTimeout(() => {
        socket.destroy();
        resolve('still open after 20 s');
      }, 20_000).unref();
    });
    expect(closed).toMatch(/^HTTP\/1.1 408|^$/);
  }, 30_000);
});
