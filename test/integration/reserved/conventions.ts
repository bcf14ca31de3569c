// What the test's stand-ins for the pod network and the downward API agree on; no side effects,
// unlike the preloads that use them.

/**
 * TEST-NET-2 (RFC 5737, never routed): the API server refuses loopback addresses in Endpoints,
 * so pods are listed here and the activator's connections to the range go to 127.0.0.1.
 */
export const POD_NETWORK_PREFIX = '198.51.100.';

/** Response header naming the pod whose app answered (sampleApp.ts sets it from POD_NAME). */
export const POD_NAME_HEADER = 'x-pod-name';
