// HAProxy from Debian's package as the reference proxy: routes one host to weighted servers, one
// thread (as the pilotlight gateway's JavaScript has one), keep-alive to the servers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { freePort, track, type Proc } from '../../harness/processes.ts';

export interface WeightedServer {
  name: string;
  address: string;
  weight: number;
}

export interface HaproxyProc extends Proc {
  port: number;
  version: string;
}

/** The installed HAProxy's version, or undefined when it is not installed. */
export function haproxyVersion(): string | undefined {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  return /version (\S+)/i.exec(probe.stdout)?.[1] ?? 'unknown';
}

function haproxyConfig(port: number, host: string, servers: WeightedServer[]): string {
  return `global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 65s
  timeout server 300s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend gateway
  bind 127.0.0.1:${port}
  acl route_host req.hdr(host),field(1,:) -i ${host}
  use_backend route if route_host
backend route
  balance roundrobin
  http-send-name-header Knative-Serving-Revision
${servers.map((s) => `  server ${s.name} ${s.address} weight ${s.weight}`).join('\n')}
`;
}

/** Starts HAProxy routing `host` over `servers`; resolves once a request through it succeeds. */
export async function startHaproxy(host: string, servers: WeightedServer[]): Promise<HaproxyProc> {
  const version = haproxyVersion();
  if (version === undefined) throw new Error('HAProxy is not installed: apt-get install -y haproxy');
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-haproxy-'));
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(port, host, servers));
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child);
  void proc.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const pool = new Pool(`http://127.0.0.1:${port}`);
  try {
    for (let attempt = 0; attempt < 100 && child.exitCode === null; attempt++) {
      const ok = await pool.request({ path: '/', method: 'GET', headers: { host } }).then(
        async (res) => {
          await res.body.dump();
          return res.statusCode === 200;
        },
        () => false,
      );
      if (ok) return { ...proc, port, version };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await pool.close();
  }
  await proc.stop(1000);
  throw new Error(`HAProxy did not start answering: ${JSON.stringify(proc.lines.slice(-5))}`);
}
