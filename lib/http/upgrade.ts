// Connection upgrades (websockets and the like): an upgrade may wait for a breaker slot
// (holdUpgrade), its handshake goes through the dispatcher, then the two sockets are spliced
// together until either side closes or the tunnel stays idle too long (forwardUpgrade).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { replaceHost, upstreamRequestHeaders } from './headers.ts';
import type { Breaker, BreakerWaiter } from '../breaker.ts';
import { realClock, type Clock, type Timer } from '../clock.ts';
import { QUEUE_FULL_BODY } from './heldRequest.ts';
import { CLIENT_CLOSED_STATUS, type Dispatch } from './proxy.ts';
import { TIMEOUT_BODY } from './timeouts.ts';

/**
 * The bounds of an upgraded connection, the same policy on every hop: the upstream must answer
 * within `responseMs` of the upgrade's arrival (time spent queued included), as a request's
 * first byte must, or the client gets 504; then the tunnel is closed once no byte has crossed it
 * either way for `idleMs`, as Envoy's stream idle timeout closes an idle websocket. 0: off.
 */
export interface UpgradeTimeouts {
  responseMs: number;
  idleMs: number;
}

/** Envoy's default stream idle timeout, which closes idle websockets behind Kourier. */
export const DEFAULT_UPGRADE_IDLE_MS = 300_000;

export interface UpgradeOptions {
  timeouts: UpgradeTimeouts;
  /** When the upgrade arrived on `clock`, if it waited before being forwarded (default: now). */
  arrivedAt?: number;
  clock?: Clock;
  dropRequestHeaders?: ReadonlySet<string>;
  host?: string;
  /**
   * Called once when both sockets are closed or the handshake failed, with how the upgrade ended:
   * 101 (a tunnel, closed), the upstream's status when it declined, 502 (upstream failed), 504
   * (no answer within the response timeout) or 499 (the client left during the handshake).
   */
  onClose?: (status: number, error: Error | undefined) => void;
}

/** A raw HTTP/1.1 response head, for a socket that no HTTP server writes to any more. */
function responseHead(statusLine: string, headers: IncomingHttpHeaders, skip: ReadonlySet<string>): string {
  let text = `HTTP/1.1 ${statusLine}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || skip.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) text += `${name}: ${one}\r\n`;
  }
  return `${text}\r\n`;
}

const NOTHING: ReadonlySet<string> = new Set();
// A declined upgrade is relayed as it arrives, unframed, and ended by closing the connection.
const DECLINED_SKIP: ReadonlySet<string> = new Set(['transfer-encoding']);

/** Ends an upgrade that timed out before the upstream answered; the socket has no HTTP server any more. */
function answerUpgradeTimeout(client: Duplex): void {
  if (!client.destroyed && client.writable)
    client.end(
      `HTTP/1.1 504 Gateway Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${TIMEOUT_BODY.length}\r\nconnection: close\r\n\r\n${TIMEOUT_BODY}`,
    );
  else client.destroy();
}

/**
 * Closes what it watches once nothing was touched for `idleMs`: one timer per watch, re-armed
 * at most once per idle period rather than on every chunk.
 */
class IdleWatch {
  #clock: Clock;
  #idleMs: number;
  #onIdle: () => void;
  #lastAt: number;
  #timer: Timer | undefined;

  constructor(clock: Clock, idleMs: number, onIdle: () => void) {
    this.#clock = clock;
    this.#idleMs = idleMs;
    this.#onIdle = onIdle;
    this.#lastAt = clock.now();
    this.#timer = clock.setTimeout(this.#check, idleMs);
  }

  touch = (): void => {
    this.#lastAt = this.#clock.now();
  };

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #check = (): void => {
    const left = this.#lastAt + this.#idleMs - this.#clock.now();
    if (left > 0) {
      this.#timer = this.#clock.setTimeout(this.#check, left);
      return;
    }
    this.#timer = undefined;
    this.#onIdle();
  };
}

export interface UpgradeHold {
  /** Undefined when nothing limits concurrency: the upgrade is admitted at once. */
  breaker: Breaker | undefined;
  /** The response timeout (UpgradeTimeouts.responseMs), which counts the time queued; 0: off. */
  responseMs: number;
  arrivedAt: number;
  clock: Clock;
  /** Runs once a slot is the upgrade's, to forward it (forwardUpgrade with the same arrivedAt). */
  admitted(): void;
  /** Runs instead when it ended unadmitted: 503 (queue full), 504 (timed out queued) or 499 (client left). */
  refused(status: number): void;
}

/**
 * Waits for a breaker slot as requests do (HeldRequest), so an upgrade queued behind a full
 * revision answers 504 at the same deadline as its request neighbours, and one whose client
 * leaves gives its place back.
 */
export function holdUpgrade(client: Duplex, hold: UpgradeHold): void {
  const breaker = hold.breaker;
  if (breaker === undefined) {
    hold.admitted();
    return;
  }
  let timer: Timer | undefined;
  const waiter: BreakerWaiter = {
    admitted() {
      timer?.cancel();
      client.off('close', onClose);
      hold.admitted();
    },
  };
  const onClose = () => {
    timer?.cancel();
    breaker.withdraw(waiter);
    hold.refused(CLIENT_CLOSED_STATUS);
  };
  switch (breaker.enter(waiter)) {
    case 'admitted':
      hold.admitted();
      return;
    case 'queued':
      client.once('close', onClose);
      if (hold.responseMs > 0)
        timer = hold.clock.setTimeout(
          () => {
            client.off('close', onClose);
            breaker.withdraw(waiter);
            answerUpgradeTimeout(client);
            hold.refused(504);
          },
          Math.max(0, hold.arrivedAt + hold.responseMs - hold.clock.now()),
        );
      return;
    case 'rejected':
      client.on('error', () => client.destroy());
      client.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${QUEUE_FULL_BODY.length}\r\nconnection: close\r\n\r\n${QUEUE_FULL_BODY}`,
      );
      hold.refused(503);
  }
}

/**
 * Forwards an HTTP/1.1 upgrade request. `head` is the first chunk the client sent after its
 * headers (Node hands it to the 'upgrade' listener); it belongs to the upstream.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  dispatcher: Dispatch,
  options: UpgradeOptions,
): void {
  const clock = options.clock ?? realClock;
  const { responseMs, idleMs } = options.timeouts;
  let settled = false;
  let responseTimer: Timer | undefined;
  let idle: IdleWatch | undefined;
  const settle = (status: number, error: Error | undefined) => {
    if (settled) return;
    settled = true;
    responseTimer?.cancel();
    idle?.stop();
    options.onClose?.(status, error);
  };
  client.on('error', () => client.destroy());
  const controllerRef: { current?: Dispatcher.DispatchController } = {};
  if (responseMs > 0) {
    const left = (options.arrivedAt ?? clock.now()) + responseMs - clock.now();
    const timedOut = () => {
      // Settled first, so the abort's own error report finds the upgrade over.
      settle(504, new Error(TIMEOUT_BODY));
      answerUpgradeTimeout(client);
      controllerRef.current?.abort(new Error(TIMEOUT_BODY));
    };
    if (left <= 0) {
      timedOut();
      return;
    }
    responseTimer = clock.setTimeout(timedOut, left);
  }
  const headers = upstreamRequestHeaders(req.rawHeaders, req.headers, options.dropRequestHeaders);
  if (options.host !== undefined) replaceHost(headers, options.host);
  const upgrade = req.headers.upgrade ?? 'websocket';
  const onEarlyClientClose = () => {
    settle(CLIENT_CLOSED_STATUS, undefined);
    controllerRef.current?.abort(new Error('client closed during the upgrade handshake'));
  };
  client.once('close', onEarlyClientClose);
  let declinedStatus = 0;
  dispatcher.dispatch(
    {
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers,
      upgrade,
    },
    {
      onRequestStart(controller) {
        controllerRef.current = controller;
        if (settled) controller.abort(new Error(TIMEOUT_BODY));
      },
      onRequestUpgrade(_controller, statusCode, responseHeaders, upstream) {
        client.off('close', onEarlyClientClose);
        if (settled || client.destroyed) {
          upstream.destroy();
          settle(CLIENT_CLOSED_STATUS, undefined);
          return;
        }
        responseTimer?.cancel();
        client.write(responseHead(`${statusCode} Switching Protocols`, responseHeaders, NOTHING));
        if (head.length > 0) upstream.write(head);
        let open = 2;
        const closed = () => {
          if (--open === 0) settle(101, undefined);
        };
        if (idleMs > 0) {
          const watch = new IdleWatch(clock, idleMs, () => {
            client.destroy();
            upstream.destroy();
          });
          idle = watch;
          upstream.on('data', watch.touch);
          client.on('data', watch.touch);
        }
        upstream.on('error', () => client.destroy());
        upstream.once('close', () => {
          client.destroy();
          closed();
        });
        client.once('close', () => {
          upstream.destroy();
          closed();
        });
        upstream.pipe(client);
        client.pipe(upstream);
      },
      onResponseStart(controller, statusCode, responseHeaders) {
        if (settled) return;
        // The upstream declined the upgrade with an ordinary response: relay it and close.
        responseTimer?.cancel();
        declinedStatus = statusCode;
        if (idleMs > 0)
          idle = new IdleWatch(clock, idleMs, () => {
            client.destroy();
            controller.abort(new Error('declined upgrade response idle'));
          });
        client.write(
          responseHead(`${statusCode} Upgrade Declined`, { ...responseHeaders, connection: 'close' }, DECLINED_SKIP),
        );
      },
      onResponseData(_controller, chunk) {
        if (settled) return;
        idle?.touch();
        client.write(chunk);
      },
      onResponseEnd() {
        if (settled) return;
        client.end();
        settle(declinedStatus, undefined);
      },
      onResponseError(_controller, error) {
        if (settled) return;
        if (!client.destroyed && client.writable)
          client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        settle(502, error);
      },
    },
  );
}
