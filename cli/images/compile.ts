// The project's TypeScript emitted as JavaScript ahead of time, for the container images. Node
// strips types as it loads a .ts file with a WebAssembly transformer that costs every process
// ≈17 MiB and grows with each file it strips; a sidecar in every pod should not pay that.
// Types are stripped with Node's own stripper, which blanks them in place, so line and column
// numbers in stack traces still match the sources; relative `.ts` import specifiers then become
// `.js`, found by TypeScript's import scanner on the stripped text.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export interface CompiledTree {
  /** Changes with any input file, its path, Node's version (the stripper) or TypeScript's (the scanner). */
  key: string;
  /** False when `outDir` already held the tree for this key. */
  compiled: boolean;
}

const KEY_FILE = '.compile-key';

/** Every file under the entries (folders or files relative to root), sorted. */
function listFiles(root: string, entries: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    const full = join(root, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) for (const name of readdirSync(full)) walk(join(path, name));
    else files.push(path);
  };
  for (const entry of entries) walk(entry);
  return files.sort();
}

/** stripTypeScriptTypes warns that it is experimental on every `pilotlight up`; that is ours to know, not the user's. */
function withoutExperimentalWarning<T>(run: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type !== 'ExperimentalWarning') (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return run();
  } finally {
    process.emitWarning = emitWarning;
  }
}

const isRelative = (specifier: string) => specifier.startsWith('./') || specifier.startsWith('../');

/** JavaScript for one module: types stripped, relative `.ts` imports pointed at `.js`. */
export function compileModule(source: string, path: string): string {
  const stripped = withoutExperimentalWarning(() => stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: path }));
  const { importedFiles } = ts.preProcessFile(stripped, true, true);
  let out = stripped;
  // From the end, so earlier positions stay valid.
  for (const { fileName, pos, end } of [...importedFiles].sort((a, b) => b.pos - a.pos)) {
    if (!isRelative(fileName) || !fileName.endsWith('.ts')) continue;
    // The scanner's span starts at the opening quote for some import forms and after it for others.
    const at = out.indexOf(fileName, Math.max(0, pos - 1));
    if (at < 0 || at > end) throw new Error(`${path}: import specifier ${fileName} not found where the scanner put it`);
    out = `${out.slice(0, at)}${fileName.slice(0, -3)}.js${out.slice(at + fileName.length)}`;
  }
  return out;
}

/**
 * Writes the entries of `root` into `outDir` with every .ts file compiled to .js and every other
 * file copied; `outDir` is replaced unless it already holds this tree.
 */
export function compileTree(root: string, entries: readonly string[], outDir: string): CompiledTree {
  const files = listFiles(root, entries);
  const hash = createHash('sha256').update(`node ${process.version}\ntypescript ${ts.version}\n`);
  for (const file of files)
    hash
      .update(`${file}\n`)
      .update(readFileSync(join(root, file)))
      .update('\n');
  const key = hash.digest('hex').slice(0, 16);
  const keyPath = join(outDir, KEY_FILE);
  if (existsSync(keyPath) && readFileSync(keyPath, 'utf8') === key) return { key, compiled: false };
  rmSync(outDir, { recursive: true, force: true });
  for (const file of files) {
    const source = join(root, file);
    const isModule = file.endsWith('.ts') && !file.endsWith('.d.ts');
    const target = join(outDir, isModule ? `${file.slice(0, -3)}.js` : file);
    mkdirSync(dirname(target), { recursive: true });
    if (isModule) writeFileSync(target, compileModule(readFileSync(source, 'utf8'), relative(root, source)));
    else copyFileSync(source, target);
  }
  writeFileSync(keyPath, key);
  return { key, compiled: true };
}
