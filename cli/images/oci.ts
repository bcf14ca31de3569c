// OCI image archives written directly, without Docker or a registry: each layer is a tar of a
// directory, and the archive is an OCI image layout that `ctr images import` accepts.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: number[];
}

export interface ImageSpec {
  /** e.g. dev.local/pilotlight/pause:1 — dev.local names skip tag resolution in Knative. */
  name: string;
  /** Directories whose contents become the layers, bottom first. */
  layers: string[];
  config: ImageConfig;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reproducible tar: sorted names, root owner, fixed times, so one input gives one digest. */
async function tarDirectory(dir: string, out: string): Promise<void> {
  await run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C',
    dir,
    '-cf',
    out,
    '.',
  ]);
}

export async function writeOciImage(spec: ImageSpec, archive: string): Promise<{ digest: string }> {
  const layout = mkdtempSync(join(tmpdir(), 'pilotlight-oci-'));
  try {
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const putJson = (value: unknown) => {
      const text = JSON.stringify(value);
      const digest = createHash('sha256').update(text).digest('hex');
      writeFileSync(join(blobs, digest), text);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
    };

    const layers: { digest: string; size: number }[] = [];
    for (const dir of spec.layers) {
      const tarPath = join(layout, 'layer.tar');
      await tarDirectory(dir, tarPath);
      const digest = await sha256(tarPath);
      renameSync(tarPath, join(blobs, digest));
      layers.push({ digest: `sha256:${digest}`, size: statSync(join(blobs, digest)).size });
    }
    const config = putJson({
      architecture: 'amd64',
      os: 'linux',
      config: {
        ...(spec.config.entrypoint ? { Entrypoint: spec.config.entrypoint } : {}),
        ...(spec.config.cmd ? { Cmd: spec.config.cmd } : {}),
        Env: spec.config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(spec.config.workingDir ? { WorkingDir: spec.config.workingDir } : {}),
        ...(spec.config.user ? { User: spec.config.user } : {}),
        ...(spec.config.exposedPorts
          ? { ExposedPorts: Object.fromEntries(spec.config.exposedPorts.map((p) => [`${p}/tcp`, {}])) }
          : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      history: layers.map(() => ({ created_by: 'pilotlight cli/images' })),
    });
    const manifest = putJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
    });
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            platform: { architecture: 'amd64', os: 'linux' },
            annotations: {
              'io.containerd.image.name': spec.name,
              'org.opencontainers.image.ref.name': spec.name.split(':').at(-1),
            },
          },
        ],
      }),
    );
    await run('tar', [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      '-C',
      layout,
      '-cf',
      archive,
      '.',
    ]);
    return { digest: manifest.digest };
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
