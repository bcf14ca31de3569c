// A one-layer OCI image archive to push in registry tests: a file and an entrypoint, nothing runnable.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeOciImage } from '../../cli/images/oci.ts';

/** Writes the image `test/app:1` as an OCI archive under `dir` and returns the archive's path. */
export async function writeTestImage(dir: string): Promise<string> {
  const root = join(dir, 'image-root');
  mkdirSync(root);
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  const archive = join(dir, 'image.tar');
  await writeOciImage({ name: 'test/app:1', layers: [root], config: { entrypoint: ['/hello'] } }, archive);
  return archive;
}
