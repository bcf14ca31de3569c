// The node's OCI registry (cli/cluster/registry.ts) as a real process on loopback with a
// certificate of a throw-away CA: images pushed by cli/images/push.ts, tags resolved by the
// revision reconciler's resolver (controllers/revision/digests.ts), over real TLS.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTool } from '../../../cli/cluster/binaries.ts';
import { pingRegistry, startRegistry, stopRegistry } from '../../../cli/cluster/registry.ts';
import { freePort, isRunning, recordedProcesses } from '../../../cli/cluster/processes.ts';
import { pushOciArchive } from '../../../cli/images/push.ts';
import { createDigestResolver, resolveContainerStatuses } from '../../../controllers/revision/digests.ts';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import { writeTestImage } from '../../support/ociImage.ts';
import { createRegistryClient } from '../../../lib/oci/client.ts';
import { pushRebuiltImage } from '../../../bench/support/rebuiltImage.ts';

const SKIP_NONE = { registriesSkippingTagResolving: ['dev.local'], timeoutMs: 10_000 };

describe('the node registry', () => {
  let unavailable: string | undefined;
  const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-registry-'));
  let host = '';
  let ca = '';
  let archive = '';

  // On empty caches the registry is built from the Go module proxy first: minutes, not part of the test.
  beforeAll(async () => {
    const binary = await ensureTool('registry').catch((error: Error) => {
      unavailable = `the registry could not be built (hack/build-tool.sh registry): ${error.message}`;
    });
    if (!binary) return;
    const authority = await createCertificateAuthority('registry-test-ca');
    ca = authority.certificate;
    mkdirSync(join(stateDir, 'pki'));
    writeFileSync(join(stateDir, 'pki', 'ca.crt'), authority.certificate);
    writeFileSync(join(stateDir, 'pki', 'ca.key'), authority.privateKey);
    host = `127.0.0.1:${await freePort()}`;
    await startRegistry({ stateDir, host, binary, log: () => {} });
    archive = await writeTestImage(stateDir);
  }, 900_000);

  afterAll(async () => {
    if (!unavailable) {
      const recorded = recordedProcesses(stateDir).find((p) => p.name === 'registry');
      await stopRegistry(stateDir);
      if (recorded) expect(isRunning(recorded.pid, recorded.binary)).toBe(false);
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('takes a pushed image and resolves its tag to the digest pushed', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const client = createRegistryClient([ca]);
    const pushed = await pushOciArchive(client, archive, `${host}/pilotlight/app:1`);
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Pushed again, every blob is already there and the manifest is the same.
    expect(await pushOciArchive(client, archive, `${host}/pilotlight/app:1`)).toBe(pushed);
    const resolve = createDigestResolver(client);
    expect(await resolve(`${host}/pilotlight/app:1`, SKIP_NONE)).toBe(`${host}/pilotlight/app@${pushed}`);
    const statuses = await resolveContainerStatuses(
      {
        containers: [
          { name: 'user-container', image: `${host}/pilotlight/app:1` },
          { name: 'side', image: 'dev.local/x:1' },
        ],
      },
      resolve,
      SKIP_NONE,
    );
    expect(statuses).toEqual({
      containerStatuses: [
        { name: 'user-container', imageDigest: `${host}/pilotlight/app@${pushed}` },
        { name: 'side' },
      ],
    });
  });

  it("takes the fault suite's rebuild of a pushed image: its layers under a relabelled config and a new tag", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const client = createRegistryClient([ca]);
    const repo = `https://${host}/v2/pilotlight/app`;
    const manifest = async (tag: string) =>
      JSON.parse(
        (
          await client.request(`${repo}/manifests/${tag}`, {
            method: 'GET',
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          })
        ).body.toString('utf8'),
      ) as { config: { digest: string }; layers: unknown[] };
    const pushed = await pushOciArchive(client, archive, `${host}/pilotlight/app:before`);
    const rebuilt = await pushRebuiltImage(client, `${host}/pilotlight/app:before`, 'after', [
      'dev.pilotlight.build',
      '2',
    ]);
    expect(rebuilt).toBe(`${host}/pilotlight/app:after`);
    const resolved = await createDigestResolver(client)(rebuilt, SKIP_NONE);
    expect(resolved).toMatch(new RegExp(`^${host}/pilotlight/app@sha256:[0-9a-f]{64}$`));
    expect(resolved).not.toBe(`${host}/pilotlight/app@${pushed}`);
    const [before, after] = [await manifest('before'), await manifest('after')];
    expect(after.layers).toEqual(before.layers);
    expect(after.config.digest).not.toBe(before.config.digest);
    const config = JSON.parse(
      (await client.request(`${repo}/blobs/${after.config.digest}`, { method: 'GET' })).body.toString('utf8'),
    ) as { config: { Entrypoint: string[]; Labels: Record<string, string> } };
    expect(config.config.Labels).toEqual({ 'dev.pilotlight.build': '2' });
    expect(config.config.Entrypoint).toEqual(['/hello']);
  });

  it("fails a missing image with the registry's reason, in Knative's wording", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const image = `${host}/pilotlight/missing:1`;
    await expect(
      resolveContainerStatuses(
        { containers: [{ name: 'user-container', image }] },
        createDigestResolver(createRegistryClient([ca])),
        SKIP_NONE,
      ),
    ).rejects.toThrow(
      `Unable to fetch image "${image}": failed to resolve image to digest: GET https://${host}/v2/pilotlight/missing/manifests/1: unexpected status code 404 (MANIFEST_UNKNOWN: `,
    );
  });

  it('serves real TLS: a client that does not trust the CA is refused', async (t) => {
    if (unavailable) return t.skip(unavailable);
    expect(await pingRegistry(host, ca)).toBe(200);
    await expect(createDigestResolver(createRegistryClient())(`${host}/pilotlight/app:1`, SKIP_NONE)).rejects.toThrow(
      /self-signed certificate|unable to verify/,
    );
  });
});
