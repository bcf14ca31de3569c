// Where pilotlight's image keeps node and the CLI; cli/images/build.ts lays the image out so.
// The queue-proxy container names them itself, because the V8 flags it runs with are refused in
// NODE_OPTIONS and can only go on node's command line.
export const IMAGE_NODE = '/usr/local/bin/node';
export const IMAGE_CLI = '/app/cli/main.js';
