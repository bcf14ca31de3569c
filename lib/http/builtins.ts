// Node's HTTP modules as CommonJS objects. `import … from 'node:http'` costs a process ≈13 MiB:
// an ES module namespace evaluates every export of a built-in, and node:http's WebSocket,
// CloseEvent and MessageEvent getters load Node's bundled undici. The CommonJS object leaves
// them lazy. node:http2 (≈8 MiB more) is loaded only by code that speaks HTTP/2, node:tls only by
// code that terminates TLS.
export const http = process.getBuiltinModule('node:http');

export const loadHttp2 = (): typeof import('node:http2') => process.getBuiltinModule('node:http2');

export const loadTls = (): typeof import('node:tls') => process.getBuiltinModule('node:tls');
