import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenApiSchema } from './structural.ts';
import { KUBERNETES_VERSION } from '../../hack/versions.ts';

/**
 * Kubernetes' own OpenAPI v3 document for core/v1, read from the k8s.io/kubernetes module that
 * the control-plane build downloads through the Go module proxy, so the CRDs describe exactly
 * the PodSpec of the Kubernetes version we pin.
 */
export function loadCoreV1Definitions(version = KUBERNETES_VERSION): Record<string, OpenApiSchema> {
  const download = execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    cwd: '/',
  });
  const { Dir: moduleDir } = JSON.parse(download) as { Dir?: string };
  if (!moduleDir) throw new Error(`go mod download k8s.io/kubernetes@${version} did not report a directory`);
  const document = JSON.parse(readFileSync(join(moduleDir, 'api/openapi-spec/v3/api__v1_openapi.json'), 'utf8')) as {
    components: { schemas: Record<string, OpenApiSchema> };
  };
  return document.components.schemas;
}
