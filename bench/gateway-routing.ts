// Micro-benchmark of the gateway routing core: table build time, route() lookups per second and
// heap allocated per lookup, for a table of Route-shaped KIngresses. Not a test: it asserts nothing.
//
//   node bench/gateway-routing.ts [ingresses=1000]
// Writes bench/results/gateway-routing.{json,md} and prints the table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { route, type RequestHead, type RouteDecision } from '../gateway/routing/index.ts';
import {
  backendKey,
  buildRoutingTable,
  type BackendState,
  type Ingress,
  type RoutingTable,
} from '../gateway/routing/table.ts';
import { addresses, routeIngress } from '../harness/kingress.ts';

const INGRESSES = Number(process.argv[2] ?? 1000);
const LOOKUPS = 1_000_000;
// Small enough that a lookup allocating ~100 bytes does not fill the young generation mid-batch.
const ALLOCATION_BATCH = 5_000;
const ALLOCATION_SAMPLES = 15;
// A few hosts keep the table's objects in CPU cache; thousands of hosts, as real traffic across many
// Routes does, make each lookup pay for cache misses on the vhost, path, schedule and upstream objects.
const SPREADS = [16, 4096];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function fixture(): { ingresses: Ingress[]; backends: Map<string, BackendState> } {
  const ingresses: Ingress[] = [];
  const backends = new Map<string, BackendState>();
  const activators = addresses('10.255.0.1', '10.255.0.2', '10.255.0.3');
  for (let i = 0; i < INGRESSES; i++) {
    const namespace = `ns-${i % 50}`;
    const name = `svc-${i}`;
    ingresses.push(
      routeIngress({
        namespace,
        name,
        tagHeaderRouting: true,
        targets: {
          '': [
            { revision: `${name}-1`, percent: 90 },
            { revision: `${name}-2`, percent: 10 },
          ],
          v2: [{ revision: `${name}-2`, percent: 100 }],
        },
      }),
    );
    for (const revision of [`${name}-1`, `${name}-2`]) {
      // One revision in ten is scaled to zero and reached through the activators.
      const state: BackendState =
        i % 10 === 0 && revision.endsWith('-2')
          ? { mode: 'proxy', protocol: 'http1', activators }
          : {
              mode: 'serve',
              protocol: 'http1',
              endpoints: addresses(
                `10.${i >> 8}.${i & 255}.1`,
                `10.${i >> 8}.${i & 255}.2`,
                `10.${i >> 8}.${i & 255}.3`,
              ),
            };
      backends.set(backendKey(namespace, revision, 80), state);
    }
  }
  return { ingresses, backends };
}

interface Scenario {
  name: string;
  requests: (i: number) => RequestHead;
}

const hostOf = (i: number) => `svc-${i}.ns-${i % 50}`;
const scenarios: Scenario[] = [
  {
    name: 'external hit',
    requests: (i) => ({
      listener: 'external',
      host: `${hostOf(i)}.example.com`,
      path: '/api/items?page=2',
      headers: {},
    }),
  },
  {
    name: 'external hit, Host with port and capitals',
    requests: (i) => ({ listener: 'external', host: `SVC-${i}.ns-${i % 50}.Example.com:8080`, path: '/', headers: {} }),
  },
  {
    name: 'internal hit, short cluster-local host',
    requests: (i) => ({ listener: 'internal', host: hostOf(i), path: '/', headers: {} }),
  },
  {
    name: 'tag header hit',
    requests: (i) => ({
      listener: 'external',
      host: `${hostOf(i)}.example.com`,
      path: '/',
      headers: { 'knative-serving-tag': 'v2' },
    }),
  },
  {
    name: 'unknown host (404)',
    requests: (i) => ({ listener: 'external', host: `missing-${i}.example.com`, path: '/', headers: {} }),
  },
  {
    name: 'cluster-local host on external listener (404)',
    requests: (i) => ({ listener: 'external', host: hostOf(i), path: '/', headers: {} }),
  },
  {
    name: 'ingress probe',
    requests: (i) => ({
      listener: 'external',
      host: `${hostOf(i)}.example.com`,
      path: '/healthz',
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'override' },
    }),
  },
];

let sink = 0;
const consume = (decision: RouteDecision) => {
  sink += decision.kind.length;
};

/** Median of three timed runs. */
function lookupsPerSecond(table: RoutingTable, requests: RequestHead[]): number {
  const mask = requests.length - 1;
  const runs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) consume(route(table, requests[i & mask]!));
    runs.push(LOOKUPS / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return runs.sort((a, b) => a - b)[1]!;
}

/** Heap growth over `lookups` lookups, or undefined when a collection ran meanwhile (it would hide allocations). */
function heapGrowth(table: RoutingTable, requests: RequestHead[], lookups: number): number | undefined {
  const mask = requests.length - 1;
  gc();
  const profiler = new GCProfiler();
  profiler.start();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < lookups; i++) consume(route(table, requests[i & mask]!));
  const after = process.memoryUsage().heapUsed;
  return profiler.stop().statistics.length === 0 ? after - before : undefined;
}

/** Median bytes per lookup, net of what measuring itself allocates (an empty batch). */
function bytesPerLookup(table: RoutingTable, requests: RequestHead[]): number | undefined {
  const samples: number[] = [];
  for (let attempt = 0; attempt < ALLOCATION_SAMPLES * 3 && samples.length < ALLOCATION_SAMPLES; attempt++) {
    const empty = heapGrowth(table, requests, 0);
    const full = heapGrowth(table, requests, ALLOCATION_BATCH);
    if (empty !== undefined && full !== undefined) samples.push(Math.max(0, full - empty) / ALLOCATION_BATCH);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const { ingresses, backends } = fixture();
const buildStarted = process.hrtime.bigint();
const first = buildRoutingTable(ingresses, backends);
const buildMs = Number(process.hrtime.bigint() - buildStarted) / 1e6;
const rebuildStarted = process.hrtime.bigint();
const table = buildRoutingTable(ingresses, backends, { previous: first });
const rebuildMs = Number(process.hrtime.bigint() - rebuildStarted) / 1e6;

const requestSets = scenarios.flatMap((scenario) =>
  SPREADS.map((spread) => ({
    scenario,
    spread,
    requests: Array.from({ length: spread }, (_, i) => scenario.requests(i % INGRESSES)),
  })),
);
// Every request shape once before any measurement, so all runs see the same optimised code.
for (const { requests } of requestSets)
  for (let i = 0; i < 200_000; i++) consume(route(table, requests[i % requests.length]!));

const rows = [];
for (const { scenario, spread, requests } of requestSets) {
  const perSecond = lookupsPerSecond(table, requests);
  const bytes = bytesPerLookup(table, requests);
  rows.push({
    scenario: scenario.name,
    hosts: spread,
    'lookups/s': Math.round(perSecond),
    'ns/lookup': Number((1e9 / perSecond).toFixed(1)),
    'bytes/lookup': bytes === undefined ? 'n/a' : Number(bytes.toFixed(2)),
  });
}

const environment = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length };
const tableShape = {
  ingresses: INGRESSES,
  externalHosts: table.external.size,
  internalHosts: table.internal.size,
  upstreams: table.upstreams.size,
};
const result = {
  date: new Date().toISOString(),
  environment,
  table: tableShape,
  buildMs,
  rebuildWithPreviousMs: rebuildMs,
  lookupsPerScenario: LOOKUPS,
  results: rows,
};

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'gateway-routing.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(
  join(resultsDir, 'gateway-routing.md'),
  [
    `# Gateway routing micro-benchmark (${result.date})`,
    '',
    `Node ${environment.node} on ${environment.cpu} (${environment.cpus} CPUs). Table: ${INGRESSES} Route-shaped KIngresses (90/10 split plus a tag, tag-header routing on),`,
    `${tableShape.externalHosts} external and ${tableShape.internalHosts} internal hosts, ${tableShape.upstreams} upstreams. Build ${buildMs.toFixed(1)} ms, rebuild with previous ${rebuildMs.toFixed(1)} ms.`,
    '',
    '| scenario | distinct hosts | lookups/s | ns/lookup | bytes/lookup |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.hosts} | ${r['lookups/s'].toLocaleString('en-US')} | ${r['ns/lookup']} | ${r['bytes/lookup']} |`,
    ),
    '',
  ].join('\n'),
);

console.log(
  `table: ${JSON.stringify(tableShape)}; build ${buildMs.toFixed(1)} ms, rebuild with previous ${rebuildMs.toFixed(1)} ms`,
);
console.table(rows);
if (sink === 0) console.log('(no decisions consumed)');
