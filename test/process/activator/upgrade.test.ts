// A websocket opened to a revision at zero is held like a request and connected once a pod
// answers its probe; bytes then flow both ways through the activator and queue-proxy.
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  startActivator,
  startPod,
  type ActivatorProc,
  type Pod,
} from '../../../harness/activator.ts';

const MESSAGE = 'hello over the upgraded socket';

describe('activator: upgrades', () => {
  let activator: ActivatorProc;
  let pod: Pod | undefined;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    activator = await startActivator();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await activator?.stop();
    await pod?.stop();
  });

  it('holds a websocket upgrade until a pod answers, then relays bytes both ways', async () => {
    const ports = await reservePodPorts();
    await putRevision(activator, 'ws-00001', { containerConcurrency: 1, pods: [ports.address] });
    const upgraded = new Promise<{ status: number; host: string; echoed: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: activator.port,
        path: '/ws',
        headers: {
          Host: 'ws-00001.default.example.com',
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Knative-Serving-Revision': 'ws-00001',
          'Knative-Serving-Namespace': 'default',
        },
      });
      req.on('upgrade', (res, socket) => {
        sockets.push(socket);
        let echoed = '';
        socket.on('data', (chunk: Buffer) => {
          echoed += chunk.toString();
          if (echoed.length >= MESSAGE.length)
            resolve({ status: res.statusCode ?? 0, host: String(res.headers['x-app-host']), echoed });
        });
        socket.write(MESSAGE);
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    await eventually('the upgrade is held', async () => (await heldRequests(activator, 'ws-00001')) === 1);
    pod = await startPod(ports);
    expect(await upgraded).toEqual({ status: 101, host: 'ws-00001.default.example.com', echoed: MESSAGE });
  });

  it('answers 404 to an upgrade for a revision it does not know', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: activator.port,
        path: '/ws',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Knative-Serving-Revision': 'nobody',
          'Knative-Serving-Namespace': 'default',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });
});
