// Runs a k6 script from bench/load/ and returns the JSON its handleSummary wrote. k6 is built from
// its Go module and cached by hack/build-tool.sh, once per machine.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const STDERR_TAIL_LINES = 20;

let binary: Promise<string> | undefined;

/** The cached k6 binary, built on first use (minutes, once). */
export function k6Binary(): Promise<string> {
  binary ??= promisify(execFile)('bash', [join(REPO, 'hack', 'build-tool.sh'), 'k6'], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim().split('\n').at(-1)!);
  return binary;
}

export interface K6Run {
  /** File name under bench/load/. */
  script: string;
  env: Record<string, string | number>;
  /** Extra k6 arguments, e.g. `--out csv=…`. */
  args?: string[];
}

/**
 * Runs k6 to completion and parses the file the script's handleSummary wrote to $SUMMARY_JSON.
 * k6's own API server is off (`--address ''`) so runs on a shared machine do not collide on its port.
 */
export async function runK6<T>(run: K6Run): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-k6-'));
  const summaryPath = join(dir, 'summary.json');
  try {
    const env = { ...process.env, K6_NO_USAGE_REPORT: 'true', SUMMARY_JSON: summaryPath };
    const args = ['run', '--quiet', '--no-color', '--address', '', ...(run.args ?? [])];
    for (const [name, value] of Object.entries(run.env)) args.push('-e', `${name}=${value}`);
    args.push(join(REPO, 'bench', 'load', run.script));
    const child = spawn(await k6Binary(), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    // Failed requests are logged one line each; only the tail is worth showing when k6 fails.
    const stderr: string[] = [];
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr.push(...chunk.split('\n'));
      stderr.splice(0, Math.max(0, stderr.length - STDERR_TAIL_LINES));
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`k6 ${run.script} exited ${code}:\n${stderr.join('\n')}`);
    return JSON.parse(readFileSync(summaryPath, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
