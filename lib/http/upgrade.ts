// Connection upgrades (websockets and the like): the handshake goes through the dispatcher,
// then the two sockets are spliced together until either side closes.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { replaceHost, upstreamRequestHeaders } from './headers.ts';
import type { Dispatch } from './proxy.ts';

export interface UpgradeOptions {
  dropRequestHeaders?: ReadonlySet<string>;
  host?: string;
  /** Called once when both sockets are closed, or when the handshake failed. */
  onClose?: (error: Error | undefined) => void;
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

/**
 * Forwards an HTTP/1.1 upgrade request. `head` is the first chunk the client sent after its
 * headers (Node hands it to the 'upgrade' listener); it belongs to the upstream.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  dispatcher: Dispatch,
  options: UpgradeOptions = {},
): void {
  let settled = false;
  const settle = (error: Error | undefined) => {
    if (settled) return;
    settled = true;
    options.onClose?.(error);
  };
  client.on('error', () => client.destroy());
  const headers = upstreamRequestHeaders(req.rawHeaders, req.headers, options.dropRequestHeaders);
  if (options.host !== undefined) replaceHost(headers, options.host);
  const upgrade = req.headers.upgrade ?? 'websocket';
  const controllerRef: { current?: Dispatcher.DispatchController } = {};
  const onEarlyClientClose = () =>
    controllerRef.current?.abort(new Error('client closed during the upgrade handshake'));
  client.once('close', onEarlyClientClose);
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
      },
      onRequestUpgrade(_controller, statusCode, responseHeaders, upstream) {
        client.off('close', onEarlyClientClose);
        if (client.destroyed) {
          upstream.destroy();
          settle(undefined);
          return;
        }
        client.write(responseHead(`${statusCode} Switching Protocols`, responseHeaders, NOTHING));
        if (head.length > 0) upstream.write(head);
        let open = 2;
        const closed = () => {
          if (--open === 0) settle(undefined);
        };
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
      onResponseStart(_controller, statusCode, responseHeaders) {
        // The upstream declined the upgrade with an ordinary response: relay it and close.
        client.write(
          responseHead(`${statusCode} Upgrade Declined`, { ...responseHeaders, connection: 'close' }, DECLINED_SKIP),
        );
      },
      onResponseData(_controller, chunk) {
        client.write(chunk);
      },
      onResponseEnd() {
        client.end();
        settle(undefined);
      },
      onResponseError(_controller, error) {
        if (!client.destroyed && client.writable)
          client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        settle(error);
      },
    },
  );
}
