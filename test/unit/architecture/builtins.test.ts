// The code the image runs takes node:http and node:http2 from lib/http/builtins.ts, never by an
// import of values: an ES module namespace of node:http evaluates every export, and its
// WebSocket, CloseEvent and MessageEvent getters load Node's bundled undici with node:http2,
// node:tls and node:zlib, which cost every process megabytes and queue-proxy tens of ms at start.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const IMAGE_FOLDERS = ['activator', 'autoscaler', 'controllers', 'gateway', 'queue-proxy', 'lib'];
const LAZY_BUILTINS = new Set(['node:http', 'node:http2']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `file: import …` for each import of values (not types only) from node:http or node:http2. */
function valueImportsOfLazyBuiltins(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  return source.statements.flatMap((statement) => {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) return [];
    if (!LAZY_BUILTINS.has(statement.moduleSpecifier.text)) return [];
    const clause = statement.importClause;
    const typesOnly =
      clause !== undefined &&
      (clause.isTypeOnly ||
        (clause.name === undefined &&
          clause.namedBindings !== undefined &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.every((element) => element.isTypeOnly)));
    return typesOnly ? [] : [`${file}: ${statement.getText(source)}`];
  });
}

describe('lazy built-ins', () => {
  it('tells an import of values from an import of types', () => {
    expect(valueImportsOfLazyBuiltins('a.ts', "import { STATUS_CODES } from 'node:http';")).toHaveLength(1);
    expect(valueImportsOfLazyBuiltins('a.ts', "import http from 'node:http';")).toHaveLength(1);
    expect(valueImportsOfLazyBuiltins('a.ts', "import { createServer, type Server } from 'node:http2';")).toHaveLength(
      1,
    );
    expect(valueImportsOfLazyBuiltins('a.ts', "import type { Server } from 'node:http';")).toEqual([]);
    expect(valueImportsOfLazyBuiltins('a.ts', "import { type Server } from 'node:http';")).toEqual([]);
    expect(valueImportsOfLazyBuiltins('a.ts', "import { request } from 'node:https';")).toEqual([]);
  });

  it('are never imported as values by the code the image runs', () => {
    const files = IMAGE_FOLDERS.flatMap((folder) => sourceFiles(folder));
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((file) => valueImportsOfLazyBuiltins(file, readFileSync(join(root, file), 'utf8')))).toEqual(
      [],
    );
  });
});
