#!/usr/bin/env node
// pilotlight: one entry point for every component and for managing a local cluster.
import { main as controller } from '../controllers/main.ts';
import { main as queueProxy } from '../queue-proxy/main.ts';
import { down, status, up } from './cluster.ts';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; summary: string }> = {
  up: { run: up, summary: 'start the local cluster (or use the configured one) and install pilotlight' },
  down: { run: down, summary: 'stop everything `up` started and remove its state' },
  status: { run: status, summary: 'show what `up` started and whether it is healthy' },
  controller: { run: controller, summary: 'run the controller (admission webhook)' },
  'queue-proxy': { run: queueProxy, summary: 'run the sidecar of a revision pod (configured by Knative\'s environment)' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return ['usage: pilotlight <command> [options]', '', 'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)].join('\n');
}

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage());
} else if (!COMMANDS[command]) {
  console.error(`pilotlight: unknown command ${JSON.stringify(command)}\n\n${usage()}`);
  process.exit(2);
} else {
  COMMANDS[command].run(rest).catch((error: unknown) => {
    console.error(`pilotlight ${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
