// The import graph keeps the shape CONTRIBUTING.md describes: each process's folder holds what that
// process runs, components never import one another, and lib/ imports nothing above it. Read
// from the sources with TypeScript's own pre-processor, so dynamic imports count too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

/** The folders whose code runs in pilotlight's image, each as its own process (by subcommand). */
const COMPONENTS = ['activator', 'autoscaler', 'controllers', 'gateway', 'queue-proxy', 'cli'] as const;
const SHARED = 'lib';
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

const files = [...COMPONENTS, SHARED].flatMap((folder) => sourceFiles(folder));
const edges = files.flatMap((from) => projectImports(from).map((to) => ({ from, to })));

type Rule = (from: string, to: string) => boolean;

const libStaysBelow: Rule = (from, to) => topFolder(from) !== SHARED || topFolder(to) === SHARED;

const componentsStayApart: Rule = (from, to) => {
  const folder = topFolder(from);
  if (folder === SHARED) return true;
  if (from === DISPATCHER && COMPONENTS.some((component) => to === `${component}/main.ts`)) return true;
  return topFolder(to) === folder || topFolder(to) === SHARED;
};

/** The imports that break a rule, as `from -> to`. */
function violations(rule: Rule): string[] {
  return edges.filter(({ from, to }) => !rule(from, to)).map(({ from, to }) => `${from} -> ${to}`);
}

describe('import graph', () => {
  it('reads the sources it checks', () => {
    // Guards the checks below against passing on an empty or mis-rooted walk.
    expect(files).toContain('gateway/main.ts');
    expect(files).toContain('lib/log.ts');
    expect(edges.length).toBeGreaterThan(500);
  });

  it('lib/ imports nothing above it', () => {
    expect(violations(libStaysBelow)).toEqual([]);
  });

  it('no component imports another component or anything outside lib/', () => {
    expect(violations(componentsStayApart)).toEqual([]);
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
  });

  it('allow a folder its own code, lib/, and the dispatcher its components', () => {
    expect(libStaysBelow('lib/http/proxy.ts', 'lib/log.ts')).toBe(true);
    expect(componentsStayApart('gateway/proxy.ts', 'gateway/routing/index.ts')).toBe(true);
    expect(componentsStayApart('gateway/proxy.ts', 'lib/log.ts')).toBe(true);
    expect(componentsStayApart('cli/main.ts', 'gateway/main.ts')).toBe(true);
  });
});
