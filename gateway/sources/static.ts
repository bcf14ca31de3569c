// A routing source read from one YAML or JSON file, so the gateway can run without Kubernetes
// (process tests, benchmarks, a laptop). The file is re-read when it changes; a file that does
// not parse is logged and the previous routing stays. Write it atomically (temporary file, then
// rename) so the gateway never reads half of it.
//
//   ingresses:                      # KIngress objects (networking.internal.knative.dev/v1alpha1)
//     - metadata: {namespace: default, name: hello}
//       spec: {rules: [...]}
//   backends:                       # one entry per split target (Service port) the Ingresses name
//     - {namespace: default, name: hello-00001, port: 80, mode: serve, protocol: http1,
//        addresses: ["127.0.0.1:8012"]}
//   secrets:                        # the TLS Secrets the Ingresses' spec.tls name: PEM inline,
//     - {namespace: default, name: hello-tls, cert: "-----BEGIN …", key: "-----BEGIN …"}
//     - {namespace: default, name: other-tls, certFile: tls.crt, keyFile: tls.key}   # or files
//
// Certificate files (relative to the routes file's directory) are watched too: rewriting one
// (atomically, as the routes file) rotates the certificate like a changed Secret would.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../../lib/log.ts';
import { backendKey, type BackendAddress, type BackendState, type Ingress } from '../routing/index.ts';
import type { RoutingSnapshot, RoutingSource } from '../sync.ts';
import { secretKey, type TlsSecretData } from '../tls.ts';

const address = z.string().transform((text, ctx): BackendAddress => {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not host:port` });
    return z.NEVER;
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
});

const routesFile = z.object({
  ingresses: z
    .array(
      z.custom<Ingress>(
        (value) => typeof (value as Ingress | undefined)?.metadata?.name === 'string',
        'every ingress needs metadata.name',
      ),
    )
    .default([]),
  backends: z
    .array(
      z.object({
        namespace: z.string(),
        name: z.string(),
        port: z.union([z.number().int(), z.string()]),
        mode: z.enum(['serve', 'proxy']).default('serve'),
        protocol: z.enum(['http1', 'h2c']).default('http1'),
        addresses: z.array(address),
      }),
    )
    .default([]),
  secrets: z
    .array(
      z
        .object({
          namespace: z.string(),
          name: z.string(),
          cert: z.string().optional(),
          key: z.string().optional(),
          certFile: z.string().optional(),
          keyFile: z.string().optional(),
        })
        .refine((s) => (s.cert === undefined) !== (s.certFile === undefined), 'give exactly one of cert and certFile')
        .refine((s) => (s.key === undefined) !== (s.keyFile === undefined), 'give exactly one of key and keyFile'),
    )
    .default([]),
});

/** Reads a certificate file; undefined when it cannot be read (the Secret then has no such key). */
export type PemReader = (path: string) => string | undefined;

/**
 * Parses the routes file's text into a snapshot, reading certificate files (relative to `dir`)
 * through `readPem`; throws naming what is wrong. `files` are the certificate files it named.
 */
export function parseRoutesFile(
  text: string,
  dir = '.',
  readPem: PemReader = (path) => readFileSync(path, 'utf8'),
): RoutingSnapshot & { files: string[] } {
  const file = routesFile.parse(parse(text) ?? {});
  const backends = new Map<string, BackendState>();
  for (const backend of file.backends) {
    const state: BackendState =
      backend.mode === 'serve'
        ? { mode: 'serve', protocol: backend.protocol, endpoints: backend.addresses }
        : { mode: 'proxy', protocol: backend.protocol, activators: backend.addresses };
    backends.set(backendKey(backend.namespace, backend.name, backend.port), state);
  }
  const secrets = new Map<string, TlsSecretData>();
  const files: string[] = [];
  const pem = (inline: string | undefined, path: string | undefined) => {
    if (path === undefined) return inline;
    files.push(resolve(dir, path));
    return readPem(resolve(dir, path));
  };
  for (const secret of file.secrets) {
    const data: TlsSecretData = {
      certificate: pem(secret.cert, secret.certFile),
      privateKey: pem(secret.key, secret.keyFile),
    };
    secrets.set(secretKey(secret.namespace, secret.name), data);
  }
  return { ingresses: file.ingresses, backends, secrets, files };
}

/** Everything a snapshot was read from, to tell a real change from a repeated event. */
const fingerprint = (text: string, snapshot: RoutingSnapshot): string =>
  JSON.stringify([text, ...[...snapshot.secrets.values()].map((s) => [s.certificate, s.privateKey])]);

export class StaticFileSource implements RoutingSource {
  readonly #path: string;
  readonly #log: Logger;
  #snapshot: RoutingSnapshot = { ingresses: [], backends: new Map(), secrets: new Map() };
  #fingerprint = '';
  /** Watched directory → the names in it that matter. */
  #watchers = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  #onChange: (() => void) | undefined;
  #reading: Promise<void> = Promise.resolve();

  constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
  }

  async start(onChange: () => void): Promise<void> {
    // A broken file at start is fatal: there is no previous routing to keep.
    this.#accept(await readFile(this.#path, 'utf8'));
    this.#onChange = onChange;
  }

  snapshot(): RoutingSnapshot {
    return this.#snapshot;
  }

  async stop(): Promise<void> {
    for (const { watcher } of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#onChange = undefined;
    await this.#reading;
  }

  #reload(): void {
    this.#reading = this.#reading.then(async () => {
      if (this.#onChange === undefined) return;
      let text: string;
      try {
        text = await readFile(this.#path, 'utf8');
      } catch (error) {
        this.#log.warn('routes file unreadable; keeping the previous routing', { path: this.#path, error });
        return;
      }
      try {
        if (!this.#accept(text)) return;
      } catch (error) {
        this.#log.warn('routes file invalid; keeping the previous routing', { path: this.#path, error });
        return;
      }
      this.#log.info('routes file reloaded', {
        path: this.#path,
        ingresses: this.#snapshot.ingresses.length,
        backends: this.#snapshot.backends.size,
        secrets: this.#snapshot.secrets.size,
      });
      this.#onChange?.();
    });
  }

  /** True when what was read differs from the snapshot in use, which it then replaces. */
  #accept(text: string): boolean {
    const { files, ...snapshot } = parseRoutesFile(text, dirname(this.#path), (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch (error) {
        this.#log.warn('certificate file unreadable', { path, error });
        return undefined;
      }
    });
    this.#watch([this.#path, ...files]);
    const next = fingerprint(text, snapshot);
    if (next === this.#fingerprint) return false;
    this.#snapshot = snapshot;
    this.#fingerprint = next;
    return true;
  }

  // Directories, not files: an atomic rename replaces a file's inode.
  #watch(paths: string[]): void {
    const wanted = new Map<string, Set<string>>();
    for (const path of paths) {
      const names = wanted.get(dirname(path)) ?? new Set<string>();
      names.add(basename(path));
      wanted.set(dirname(path), names);
    }
    for (const [dir, entry] of this.#watchers) {
      if (wanted.has(dir)) continue;
      entry.watcher.close();
      this.#watchers.delete(dir);
    }
    for (const [dir, names] of wanted) {
      const entry = this.#watchers.get(dir);
      if (entry) {
        entry.names = names;
        continue;
      }
      const watcher = watch(dir, (_event, changed) => {
        if (changed === null || this.#watchers.get(dir)?.names.has(changed)) this.#reload();
      });
      this.#watchers.set(dir, { watcher, names });
    }
  }
}
