// Background processes of a local cluster: started detached with their output in log files,
// recorded by pid, and stopped only if the pid still runs the binary we started.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  name: string;
  pid: number;
  log: string;
}

export function startProcess(
  stateDir: string,
  name: string,
  binary: string,
  args: string[],
  env: Record<string, string> = {},
): ManagedProcess {
  const logDir = join(stateDir, 'logs');
  const pidDir = join(stateDir, 'pids');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pidDir, { recursive: true });
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${binary}`);
  child.unref();
  writeFileSync(join(pidDir, `${name}.pid`), `${child.pid} ${binary}\n`);
  return { name, pid: child.pid, log };
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

export function isRunning(pid: number, binary: string): boolean {
  const command = commandOf(pid);
  return command !== undefined && basename(command) === basename(binary);
}

export function recordedProcesses(stateDir: string): { name: string; pid: number; binary: string }[] {
  const pidDir = join(stateDir, 'pids');
  let files: string[];
  try {
    files = readdirSync(pidDir);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.pid'))
    .map((f) => {
      const [pid, binary] = readFileSync(join(pidDir, f), 'utf8').trim().split(' ');
      return { name: f.slice(0, -4), pid: Number(pid), binary: binary ?? '' };
    });
}

/** Stops the named recorded processes in the given order: SIGTERM, then SIGKILL after graceMs. */
export async function stopProcesses(stateDir: string, names: string[], graceMs = 10_000): Promise<string[]> {
  const recorded = recordedProcesses(stateDir);
  const stopped: string[] = [];
  for (const name of names) {
    const p = recorded.find((r) => r.name === name);
    if (!p) continue;
    if (isRunning(p.pid, p.binary)) {
      process.kill(p.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isRunning(p.pid, p.binary) && Date.now() < deadline) await sleep(50);
      if (isRunning(p.pid, p.binary)) process.kill(p.pid, 'SIGKILL');
      while (isRunning(p.pid, p.binary)) await sleep(20);
      stopped.push(p.name);
    }
    rmSync(join(stateDir, 'pids', `${p.name}.pid`), { force: true });
  }
  return stopped;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
