// Helpers for integration tests: the real kubectl against the run's control plane, and a
// namespace per test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { stringify } from 'yaml';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      inject('kubectl'),
      args,
      { env: { ...process.env, KUBECONFIG: inject('kubeconfig') }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}

/** Applies objects (YAML text or objects) and returns kubectl's result without throwing. */
export function apply(
  namespace: string,
  manifest: string | object | object[],
  extra: string[] = [],
): Promise<KubectlResult> {
  const text =
    typeof manifest === 'string'
      ? manifest
      : (Array.isArray(manifest) ? manifest : [manifest]).map((m) => stringify(m)).join('---\n');
  return kubectl(['apply', '-n', namespace, '-f', '-', ...extra], text);
}

export async function mustSucceed(result: Promise<KubectlResult>): Promise<string> {
  const r = await result;
  if (r.code !== 0) throw new Error(`kubectl failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function getJson<T = Record<string, unknown>>(
  namespace: string,
  resource: string,
  name: string,
): Promise<T> {
  return JSON.parse(await mustSucceed(kubectl(['get', '-n', namespace, resource, name, '-o', 'json']))) as T;
}

export async function createNamespace(prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await mustSucceed(kubectl(['create', 'namespace', name]));
  return name;
}
