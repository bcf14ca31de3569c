// The import graph keeps the shape CONTRIBUTING.md describes: each process's folder holds what that
// process runs, components never import one another, lib/ imports nothing above it, and the tests
// and benchmarks share harness/ rather than each other's files. Read from the sources with
// TypeScript's own pre-processor, so dynamic imports count too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

/** The folders whose code runs in pilotlight's image, each as its own process (by subcommand). */
const COMPONENTS = ['activator', 'autoscaler', 'controllers', 'gateway', 'queue-proxy', 'cli'] as const;
const SHARED = 'lib';
const TESTS = 'test';
const BENCHMARKS = 'bench';
/** What test/ and bench/ both run: the processes on loopback, the fakes, the fixtures. */
const HARNESS = 'harness';
/** cli/main.ts is the image's one entry point: it starts any component by its main.ts. */
const DISPATCHER = 'cli/main.ts';

const SKIPPED_DIRS = new Set(['node_modules', '.git', 'results']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Repository-relative paths of the project files a file imports (packages left out). */
function projectImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return info.importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => normalize(join(dirname(file), specifier)));
}

const topFolder = (path: string) => path.split('/')[0]!;

const isComponent = (folder: string) => (COMPONENTS as readonly string[]).includes(folder);

const files = [...COMPONENTS, SHARED, TESTS, BENCHMARKS, HARNESS].flatMap((folder) => sourceFiles(folder));
const edges = files.flatMap((from) => projectImports(from).map((to) => ({ from, to })));

type Rule = (from: string, to: string) => boolean;

const libStaysBelow: Rule = (from, to) => topFolder(from) !== SHARED || topFolder(to) === SHARED;

const componentsStayApart: Rule = (from, to) => {
  const folder = topFolder(from);
  if (!isComponent(folder)) return true;
  if (from === DISPATCHER && COMPONENTS.some((component) => to === `${component}/main.ts`)) return true;
  return topFolder(to) === folder || topFolder(to) === SHARED;
};

/** A benchmark shares the harness with the tests, never a test's own files. */
const benchLeavesTestsAlone: Rule = (from, to) => topFolder(from) !== BENCHMARKS || topFolder(to) !== TESTS;

/** The harness serves test/ and bench/, so it leans on neither. */
const harnessStandsAlone: Rule = (from, to) =>
  topFolder(from) !== HARNESS || (topFolder(to) !== TESTS && topFolder(to) !== BENCHMARKS);

/** The imports that break a rule, as `from -> to`. */
function violations(rule: Rule): string[] {
  return edges.filter(({ from, to }) => !rule(from, to)).map(({ from, to }) => `${from} -> ${to}`);
}

describe('import graph', () => {
  it('reads the sources it checks', () => {
    // Guards the checks below against passing on an empty or mis-rooted walk.
    expect(files).toContain('gateway/main.ts');
    expect(files).toContain('lib/log.ts');
    expect(files).toContain('bench/run.ts');
    expect(edges).toContainEqual({ from: 'bench/gateway.ts', to: 'harness/gateway.ts' });
    expect(edges).toContainEqual({ from: 'harness/gateway.ts', to: 'harness/processes.ts' });
    expect(edges.length).toBeGreaterThan(500);
  });

  it('lib/ imports nothing above it', () => {
    expect(violations(libStaysBelow)).toEqual([]);
  });

  it('no component imports another component or anything outside lib/', () => {
    expect(violations(componentsStayApart)).toEqual([]);
  });

  it('bench/ imports no test/ file', () => {
    expect(violations(benchLeavesTestsAlone)).toEqual([]);
  });

  it('harness/ imports no test/ or bench/ file', () => {
    expect(violations(harnessStandsAlone)).toEqual([]);
  });

  it.each(COMPONENTS)('every file in %s/ is run by that process (reached from its main.ts)', (component) => {
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file) || topFolder(file) !== component) return;
      reached.add(file);
      for (const to of projectImports(file)) visit(to);
    };
    visit(`${component}/main.ts`);
    const unreached = files.filter((file) => topFolder(file) === component && !reached.has(file));
    expect(unreached).toEqual([]);
  });
});

describe('the rules', () => {
  it('refuse the imports they exist to catch', () => {
    expect(libStaysBelow('lib/http/proxy.ts', 'gateway/proxy.ts')).toBe(false);
    expect(componentsStayApart('activator/stats.ts', 'queue-proxy/stats.ts')).toBe(false);
    expect(componentsStayApart('autoscaler/main.ts', 'controllers/reconcilers.ts')).toBe(false);
    expect(componentsStayApart('gateway/proxy.ts', 'test/support/kube.ts')).toBe(false);
    expect(componentsStayApart('cli/cluster.ts', 'gateway/proxy.ts')).toBe(false);
    expect(componentsStayApart('gateway/main.ts', 'harness/processes.ts')).toBe(false);
    expect(libStaysBelow('lib/kube/rest.ts', 'harness/fakeDataPlane.ts')).toBe(false);
    expect(benchLeavesTestsAlone('bench/gateway.ts', 'test/process/gateway/split.test.ts')).toBe(false);
    expect(harnessStandsAlone('harness/gateway.ts', 'test/support/rawHttp.ts')).toBe(false);
    expect(harnessStandsAlone('harness/activator.ts', 'bench/support/k6.ts')).toBe(false);
  });

  it('allow a folder its own code, lib/, and the dispatcher its components', () => {
    expect(libStaysBelow('lib/http/proxy.ts', 'lib/log.ts')).toBe(true);
    expect(componentsStayApart('gateway/proxy.ts', 'gateway/routing/index.ts')).toBe(true);
    expect(componentsStayApart('gateway/proxy.ts', 'lib/log.ts')).toBe(true);
    expect(componentsStayApart('cli/main.ts', 'gateway/main.ts')).toBe(true);
  });

  it('allow tests and benchmarks the harness and the code they drive, and the harness the code it starts', () => {
    expect(benchLeavesTestsAlone('bench/gateway.ts', 'harness/gateway.ts')).toBe(true);
    expect(benchLeavesTestsAlone('bench/gateway.ts', 'gateway/routing/table.ts')).toBe(true);
    expect(benchLeavesTestsAlone('test/process/gateway/split.test.ts', 'test/support/rawHttp.ts')).toBe(true);
    expect(benchLeavesTestsAlone('test/process/gateway/split.test.ts', 'harness/gateway.ts')).toBe(true);
    expect(harnessStandsAlone('harness/gateway.ts', 'harness/processes.ts')).toBe(true);
    expect(harnessStandsAlone('harness/fakeDataPlane.ts', 'lib/kube/rest.ts')).toBe(true);
    expect(harnessStandsAlone('test/unit/bench/plot.test.ts', 'bench/support/plot.ts')).toBe(true);
    // Test and benchmark files are no component: componentsStayApart leaves them to the rules above.
    expect(componentsStayApart('test/process/gateway/split.test.ts', 'gateway/main.ts')).toBe(true);
  });
});
