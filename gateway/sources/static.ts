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
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../../lib/log.ts';
import { backendKey, type BackendAddress, type BackendState, type Ingress } from '../routing/index.ts';
import type { RoutingSnapshot, RoutingSource } from '../sync.ts';

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
});

/** Parses the routes file's text into a snapshot; throws naming what is wrong. */
export function parseRoutesFile(text: string): RoutingSnapshot {
  const file = routesFile.parse(parse(text) ?? {});
  const backends = new Map<string, BackendState>();
  for (const backend of file.backends) {
    const state: BackendState =
      backend.mode === 'serve'
        ? { mode: 'serve', protocol: backend.protocol, endpoints: backend.addresses }
        : { mode: 'proxy', protocol: backend.protocol, activators: backend.addresses };
    backends.set(backendKey(backend.namespace, backend.name, backend.port), state);
  }
  return { ingresses: file.ingresses, backends };
}

export class StaticFileSource implements RoutingSource {
  readonly #path: string;
  readonly #log: Logger;
  #snapshot: RoutingSnapshot = { ingresses: [], backends: new Map() };
  #text = '';
  #watcher: FSWatcher | undefined;
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
    // The directory, not the file: an atomic rename replaces the file's inode.
    const name = basename(this.#path);
    this.#watcher = watch(dirname(this.#path), (_event, changed) => {
      if (changed === null || changed === name) this.#reload();
    });
  }

  snapshot(): RoutingSnapshot {
    return this.#snapshot;
  }

  async stop(): Promise<void> {
    this.#watcher?.close();
    this.#onChange = undefined;
    await this.#reading;
  }

  #reload(): void {
    this.#reading = this.#reading.then(async () => {
      let text: string;
      try {
        text = await readFile(this.#path, 'utf8');
      } catch (error) {
        this.#log.warn('routes file unreadable; keeping the previous routing', { path: this.#path, error });
        return;
      }
      if (text === this.#text) return;
      try {
        this.#accept(text);
      } catch (error) {
        this.#log.warn('routes file invalid; keeping the previous routing', { path: this.#path, error });
        return;
      }
      this.#log.info('routes file reloaded', {
        path: this.#path,
        ingresses: this.#snapshot.ingresses.length,
        backends: this.#snapshot.backends.size,
      });
      this.#onChange?.();
    });
  }

  #accept(text: string): void {
    this.#snapshot = parseRoutesFile(text);
    this.#text = text;
  }
}
