// Preloaded (`node --import`) into the activator process: plays the pod network. The test's pods
// are listed in Endpoints at POD_NETWORK_PREFIX addresses while their queue-proxies listen on
// 127.0.0.1; every connection the process opens to that range goes to loopback, same port.
// Nothing else is reachable but loopback itself (the API server, the autoscaler): the activator
// watches every namespace, and pods other tests list at made-up addresses are not probed over
// the machine's network.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, Socket, type LookupFunction } from 'node:net';
import { POD_NETWORK_PREFIX } from './conventions.ts';

const LOOPBACK = '127.0.0.1';

/** Where a connection to this address goes; undefined when it is unreachable from here. */
function route(address: string): string | undefined {
  if (address.startsWith(POD_NETWORK_PREFIX)) return LOOPBACK;
  if (address.startsWith('127.') || address === '::1') return address;
  return undefined;
}

function unreachable(address: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`connect EHOSTUNREACH ${address} (outside the test's pod network)`);
  error.code = 'EHOSTUNREACH';
  return error;
}

/** A lookup whose answers are routed: pod addresses come back as loopback, others fail. */
function viaPodNetwork(lookup: LookupFunction): LookupFunction {
  return (hostname, options, callback) =>
    lookup(hostname, options, (error, address, family) => {
      if (error) {
        callback(error, address, family);
        return;
      }
      const answers: LookupAddress[] = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      const routed = answers.map((a) => ({ ...a, address: route(a.address) ?? '' }));
      const outside = answers.find((_, i) => routed[i]!.address === '');
      if (outside !== undefined) callback(unreachable(outside.address), '', 0);
      else if (Array.isArray(address)) callback(null, routed);
      else callback(null, routed[0]!.address, family);
    });
}

const connect = Socket.prototype.connect as (this: Socket, ...args: unknown[]) => Socket;

Socket.prototype.connect = function connectInPodNetwork(this: Socket, ...args: unknown[]): Socket {
  // net.connect hands over [options, callback] already normalised; direct callers pass
  // (options[, callback]) or (port[, host][, callback]).
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; path?: string; lookup?: LookupFunction };
    if (options.path !== undefined) return connect.apply(this, args);
    const host = options.host ?? 'localhost';
    if (isIP(host) === 0) {
      // A name, such as the Host that undici connects to with a lookup answering the pod's address.
      options.lookup = viaPodNetwork(options.lookup ?? dnsLookup);
    } else {
      const routed = route(host);
      if (routed === undefined) return refuse(this, host);
      options.host = routed;
    }
  } else if (typeof first === 'number' && typeof args[1] === 'string' && isIP(args[1]) !== 0) {
    const routed = route(args[1]);
    if (routed === undefined) return refuse(this, args[1]);
    args[1] = routed;
  }
  return connect.apply(this, args);
} as Socket['connect'];

function refuse(socket: Socket, address: string): Socket {
  process.nextTick(() => socket.destroy(unreachable(address)));
  return socket;
}
