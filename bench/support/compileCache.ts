// Node's module compile cache (node:module enableCompileCache) filled ahead of time, as an image
// build would, for bench/queue-proxy-start.ts to measure: it did not make queue-proxy start
// sooner, so the image does not ship one. V8 takes a code cache only from a process with the same
// V8 flags, so it is filled once per set of flags. Node keeps each set in
// `<cache>/<node version>-<arch>-<V8 tag>-<uid>`; the tag changes with the flags, and the uid is
// the user who will read it, whoever fills it. Portable mode names each module by its path
// relative to the cache, so the tree may move from where it was filled.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The cache's folder name inside the tree. */
const COMPILE_CACHE_DIR = '.node-compile-cache';

/** The environment that makes a process read the cache that warmCompileCache wrote. */
export const compileCacheEnv = (appRoot: string): Record<string, string> => ({
  NODE_COMPILE_CACHE: join(appRoot, COMPILE_CACHE_DIR),
  NODE_COMPILE_CACHE_PORTABLE: '1',
});

export interface CompileCacheWarming {
  /** The tree, laid out as it will run. */
  root: string;
  /** The node binary that will read the cache. */
  node: string;
  /** The user who will read it: Node reads only the cache written for the uid it runs as. */
  uid: number;
  /** Each set of V8 flags a process will run with, and the modules (relative to root) it loads at start. */
  runs: ReadonlyArray<{ flags: readonly string[]; modules: readonly string[] }>;
}

/** Files and folders anyone may read: the reader may not be the writer, and Node writes its cache private. */
function readableByAll(path: string): void {
  const isDir = statSync(path).isDirectory();
  chmodSync(path, isDir ? 0o755 : 0o644);
  if (isDir) for (const name of readdirSync(path)) readableByAll(join(path, name));
}

/**
 * Writes `<root>/.node-compile-cache`: each run imports its modules (a module that starts its
 * component only when it is the main one starts nothing) in a node with its flags, which compiles
 * them into the cache.
 */
export async function warmCompileCache({ root, node, uid, runs }: CompileCacheWarming): Promise<void> {
  const cache = join(root, COMPILE_CACHE_DIR);
  rmSync(cache, { recursive: true, force: true });
  const builder = process.getuid?.() ?? 0;
  for (const { flags, modules } of runs) {
    const imports = modules.flatMap((module) => ['--import', pathToFileURL(join(root, module)).href]);
    await run(node, [...flags, ...imports, '-e', ''], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...compileCacheEnv(root) },
    });
  }
  if (!existsSync(cache)) throw new Error(`node wrote no compile cache in ${cache}`);
  for (const name of readdirSync(cache)) {
    const forUid = name.replace(new RegExp(`-${builder}$`), `-${uid}`);
    if (forUid === name && builder !== uid)
      throw new Error(`compile cache folder ${name} is not named for uid ${builder}`);
    if (forUid !== name) renameSync(join(cache, name), join(cache, forUid));
  }
  readableByAll(cache);
}
