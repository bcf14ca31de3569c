// The connection bounds every proxy's listener shares (lib/http/server.ts), checked on a running
// process whose headers and keep-alive timeouts are set to BOUND_MS: each misbehaving client
// below must be cut off well within CLOSE_WITHIN_MS, which is far above BOUND_MS plus node's
// connection-check interval on a busy machine, and far below the 60s a server without the
// bounds would keep it.
import { expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import {
  connectRaw,
  HALF_SENT_HEADERS,
  HTTP2_SESSION_START,
  readUntil,
  upgradeRequest,
  waitForClose,
} from '../../support/rawConnections.ts';

export const BOUND_MS = 500;
export const CLOSE_WITHIN_MS = 10_000;
const DRIP_EVERY_MS = 100;

/** The flags or environment a process takes for BOUND_MS, in Go duration strings. */
export const BOUND = `${BOUND_MS}ms`;

/** A 408 from node's HTTP/1.1 server, or nothing: either way the connection was closed. */
const timedOutOrSilent = (received: string) => received === '' || received.startsWith('HTTP/1.1 408');

export function itBoundsEveryConnectionPhase(port: () => number): void {
  it('closes a connection whose request line never ends (slowloris)', async () => {
    const socket = await connectRaw(port());
    socket.write('GET / HT');
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS);
    expect(ending.closed).toBe(true);
    expect(timedOutOrSilent(ending.received)).toBe(true);
  });

  it('closes a connection that drips header lines forever, with 408', async () => {
    const socket = await connectRaw(port());
    socket.write('GET / HTTP/1.1\r\nHost: drip.example.com\r\n');
    let line = 0;
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS, {
      everyMs: DRIP_EVERY_MS,
      write: (s) => s.write(`X-Drip-${line++}: ${'x'.repeat(8)}\r\n`),
    });
    expect(ending.closed).toBe(true);
    expect(ending.received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an h2c session that never opens a stream', async () => {
    const socket = await connectRaw(port());
    socket.write(HTTP2_SESSION_START);
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS);
    expect(ending.closed).toBe(true);
  });

  it('closes an h2c session whose HEADERS block never ends', async () => {
    const socket = await connectRaw(port());
    socket.write(Buffer.concat([HTTP2_SESSION_START, HALF_SENT_HEADERS]));
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS);
    expect(ending.closed).toBe(true);
  });
}

export interface UpgradeTarget {
  port(): number;
  /** What routes an upgrade to the sample app (Host, Knative-Serving-* headers). */
  headers: Record<string, string>;
}

async function openTunnel(target: UpgradeTarget): Promise<Socket> {
  const socket = await connectRaw(target.port());
  socket.write(upgradeRequest('/ws', target.headers));
  const head = await readUntil(socket, '\r\n\r\n', CLOSE_WITHIN_MS);
  expect(head).toMatch(/^HTTP\/1\.1 101/);
  return socket;
}

/**
 * Upgrades: one to an app that never answers gets 504 once the upgrade response timeout (set
 * small by the caller) has passed; a tunnel idle both ways is closed after the upgrade idle
 * timeout (BOUND_MS) while one that keeps talking stays open.
 */
export function itBoundsUpgrades(target: UpgradeTarget): void {
  it('answers 504 to an upgrade the app never answers, and closes it', async () => {
    const socket = await connectRaw(target.port());
    socket.write(upgradeRequest('/hang-upgrade', target.headers));
    const ending = await waitForClose(socket, CLOSE_WITHIN_MS);
    expect(ending.closed).toBe(true);
    expect(ending.received).toMatch(/^HTTP\/1\.1 504/);
  });

  it('closes an idle websocket tunnel while an active one stays open', async () => {
    const [idle, active] = await Promise.all([openTunnel(target), openTunnel(target)]);
    let echoed = 0;
    active.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
    });
    let sent = 0;
    let sentWhenIdleClosed: number | undefined;
    const idleEnding = waitForClose(idle, CLOSE_WITHIN_MS).then((ending) => {
      sentWhenIdleClosed = sent;
      return ending;
    });
    // Talk on the active tunnel until the idle one is closed, then for twice its timeout more.
    const ticks = CLOSE_WITHIN_MS / DRIP_EVERY_MS;
    const ticksAfter = (2 * BOUND_MS) / DRIP_EVERY_MS;
    for (
      let tick = 0;
      tick < ticks && (sentWhenIdleClosed === undefined || sent < sentWhenIdleClosed + ticksAfter);
      tick++
    ) {
      active.write('.');
      sent++;
      await sleep(DRIP_EVERY_MS);
    }
    expect((await idleEnding).closed).toBe(true);
    expect(sent).toBeGreaterThanOrEqual(sentWhenIdleClosed! + ticksAfter);
    expect(active.destroyed).toBe(false);
    for (let tick = 0; tick < ticks && echoed < sent; tick++) await sleep(DRIP_EVERY_MS);
    expect(echoed).toBe(sent);
    active.destroy();
  });
}
