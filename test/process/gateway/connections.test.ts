// The gateway's listeners bound every phase of a connection (issue #19), HTTP/2 included:
// slowloris clients and idle or half-open h2c sessions are cut off after --headers-timeout and
// --keep-alive-timeout, while a session with a request in progress stays open for as long as the
// request takes; an upgrade waits for the 101 no longer than --upgrade-response-timeout and an
// idle tunnel is closed after --upgrade-idle-timeout.
import { connect as http2Connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type SampleApp } from '../../support/apps/processes.ts';
import {
  BOUND,
  BOUND_MS,
  CLOSE_WITHIN_MS,
  itBoundsEveryConnectionPhase,
  itBoundsUpgrades,
} from '../lib/connectionBounds.ts';
import { ingress, split, startGateway, type GatewayProc } from './harness.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'bounds.default.example.com';

/** An h2c GET on a fresh session, its status, and whether the session was still open when it was answered. */
function h2cGet(port: number, path: string): Promise<{ status: number; sessionOpen: boolean }> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  return new Promise<{ status: number; sessionOpen: boolean }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${CLOSE_WITHIN_MS}ms`)), CLOSE_WITHIN_MS);
    session.once('error', reject);
    const stream = session.request({ ':path': path, ':authority': HOST });
    stream.once('error', reject);
    stream.once('response', (headers) => {
      const sessionOpen = !session.closed && !session.destroyed;
      stream.resume();
      stream.once('end', () => {
        clearTimeout(timer);
        resolve({ status: Number(headers[':status']), sessionOpen });
      });
    });
    stream.end();
  }).finally(() => session.destroy());
}

describe('gateway connection bounds', () => {
  let app: SampleApp | undefined;
  let gateway: GatewayProc | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    gateway = await startGateway(
      {
        ingresses: [ingress('bounds', [{ hosts: [HOST], paths: [{ splits: [split('bounds-00001', 100)] }] }])],
        backends: [{ name: 'bounds-00001', addresses: [`127.0.0.1:${app.port}`] }],
      },
      [
        '--headers-timeout',
        BOUND,
        '--keep-alive-timeout',
        BOUND,
        '--upgrade-response-timeout',
        BOUND,
        '--upgrade-idle-timeout',
        BOUND,
      ],
    );
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gateway?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  describe.each([
    { name: 'external listener', port: () => gateway!.externalPort },
    { name: 'internal listener', port: () => gateway!.internalPort },
  ])('on the $name', ({ port }) => itBoundsEveryConnectionPhase(port));

  it('keeps an h2c session open while a request on it takes longer than the keep-alive timeout', async () => {
    expect(await h2cGet(gateway!.externalPort, `/?sleep=${3 * BOUND_MS}`)).toEqual({ status: 200, sessionOpen: true });
  });

  itBoundsUpgrades({ port: () => gateway!.externalPort, headers: { Host: HOST } });
});
