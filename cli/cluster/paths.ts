import { homedir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** Binaries built through the Go module proxy: outside the repo, shared by every checkout. */
export const cacheRoot = process.env.PILOTLIGHT_CACHE ?? join(homedir(), '.cache', 'pilotlight');

/** Where a running local cluster keeps its certificates, data, logs and process ids. */
export const defaultStateDir =
  process.env.PILOTLIGHT_STATE_DIR ??
  join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'pilotlight');
