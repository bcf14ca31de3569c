// The conformance suites' test images, packed the way ko packs them for Knative's CI, from the
// static binaries test/conformance/build.sh compiled out of the module cache. The runtime suite
// inspects the container it runs in (user, working directory, files, environment), so the image
// layout is part of what is tested, not a detail: a distroless-static-like base (nonroot user
// 65532, /tmp world-writable, CA certificates) and ko's own layer (the binary at /ko-app/<name>
// as the entrypoint, the package's kodata/ at /var/run/ko named by KO_DATA_PATH).
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_HOST } from '../../cli/cluster/node.ts';
import { writeOciImage } from '../../cli/images/oci.ts';
import { pushOciArchive } from '../../cli/images/push.ts';
import type { RegistryClient } from '../../lib/oci/client.ts';

/** The test modules whose test/test_images the suites use, each under an image repo of its own. */
export const IMAGE_MODULES = ['serving', 'networking'] as const;
export type ImageModule = (typeof IMAGE_MODULES)[number];

/**
 * `--dockerrepo` for a module's suites: a repository in the local cluster's registry, which is
 * not a *.local name, so Knative's digest checks and TestContainerErrorMsg run.
 */
export const dockerRepo = (module: ImageModule) => `${REGISTRY_HOST}/knative-${module}-tests`;

const NONROOT = 65532;

/** /etc/passwd and /etc/group as distroless has them: root, nobody and nonroot. */
function baseLayer(dir: string): string {
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'etc', 'ssl', 'certs'), { recursive: true });
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    [
      'root:x:0:0:root:/root:/sbin/nologin',
      'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
      `nonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'etc', 'group'), ['root:x:0:', 'nobody:x:65534:', `nonroot:x:${NONROOT}:`, ''].join('\n'));
  // The images speak HTTP to each other in the cluster; the certificates are there because
  // distroless-static has them and httpproxy-style images may dial https.
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) {
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(dir, 'etc', 'ssl', 'certs', 'ca-certificates.crt'));
  }
  for (const sub of ['tmp', 'home/nonroot', 'root']) mkdirSync(join(dir, sub), { recursive: true });
  // The runtime contract requires a world-writable /tmp (TestMustHaveFiles); mkdir's mode is
  // cut by the umask, so set it afterwards.
  chmodSync(join(dir, 'tmp'), 0o1777);
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

export interface PackedImage {
  name: string;
  archive: string;
}

/**
 * Packs every binary of one module's test images (apps/<module>/ from build.sh) into an OCI
 * archive under cacheDir/oci/<module>/, reusing archives already written for this tag.
 */
export async function packModuleImages(
  cacheDir: string,
  module: ImageModule,
  moduleDir: string,
  tag: string,
): Promise<PackedImage[]> {
  const appsDir = join(cacheDir, 'apps', module);
  const base = baseLayer(join(cacheDir, 'layers', 'base'));
  const ociDir = join(cacheDir, 'oci', module);
  mkdirSync(ociDir, { recursive: true });
  const packages = readFileSync(join(appsDir, 'packages.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t') as [string, string]);
  const images: PackedImage[] = [];
  for (const [binary, importPath] of packages) {
    const name = `${dockerRepo(module)}/${binary}:${tag}`;
    const archive = join(ociDir, `${binary}-${tag}.tar`);
    images.push({ name, archive });
    if (existsSync(archive)) continue;
    const layer = join(cacheDir, 'layers', module, binary);
    rmSync(layer, { recursive: true, force: true });
    mkdirSync(join(layer, 'ko-app'), { recursive: true });
    copyFileSync(join(appsDir, binary), join(layer, 'ko-app', binary));
    chmodSync(join(layer, 'ko-app', binary), 0o755);
    // ko ships the package's kodata/ (none of the pinned images has one today) at KO_DATA_PATH.
    const kodata = join(moduleDir, importPath.replace(`knative.dev/${module}/`, ''), 'kodata');
    mkdirSync(join(layer, 'var', 'run', 'ko'), { recursive: true });
    if (existsSync(kodata)) cpSync(kodata, join(layer, 'var', 'run', 'ko'), { recursive: true, dereference: true });
    await writeOciImage(
      {
        name,
        layers: [base, layer],
        config: {
          entrypoint: [`/ko-app/${binary}`],
          env: [
            'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/ko-app',
            'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
            'KO_DATA_PATH=/var/run/ko',
          ],
          user: String(NONROOT),
          workingDir: '/home/nonroot',
        },
      },
      `${archive}.tmp`,
    );
    renameSync(`${archive}.tmp`, archive);
    rmSync(layer, { recursive: true, force: true });
  }
  return images;
}

/** Pushes the images to the cluster's registry; blobs it already holds are not sent again. */
export async function pushImages(client: RegistryClient, images: PackedImage[]): Promise<void> {
  for (const image of images) await pushOciArchive(client, image.archive, image.name);
}
