#!/usr/bin/env node
// pilotlight: one entry point for every component and for managing a local cluster. Each command
// loads only its own modules, so a queue-proxy sidecar never pays for the controller's libraries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Command {
  load: () => Promise<{ main: (argv: string[]) => Promise<void> }>;
  summary: string;
  /** The help of a command whose module takes no --help of its own. */
  help?: () => Promise<string>;
}

const COMMANDS: Record<string, Command> = {
  up: {
    load: async () => ({ main: (await import('./cluster.ts')).up }),
    summary: 'start the local cluster (or use the configured one) and install pilotlight',
  },
  down: {
    load: async () => ({ main: (await import('./cluster.ts')).down }),
    summary: 'stop everything `up` started and remove its state',
  },
  status: {
    load: async () => ({ main: (await import('./cluster.ts')).status }),
    summary: 'show what `up` started and whether it is healthy',
  },
  image: {
    load: () => import('./images/command.ts'),
    summary: 'build the images and the chart, or publish them to a registry (image push --to REGISTRY)',
  },
  controller: {
    load: () => import('../controllers/main.ts'),
    summary: 'run the controller (admission webhook and reconcilers)',
  },
  activator: {
    load: () => import('../activator/main.ts'),
    summary: 'run the activator (holds requests while a revision scales from zero)',
  },
  gateway: {
    load: () => import('../gateway/main.ts'),
    summary: 'run the gateway (routes by host, splits traffic across revisions)',
    help: async () => {
      const { FLAGS } = await import('../gateway/main.ts');
      const rows = Object.entries(FLAGS).map(([name, flag]) => {
        const fallback = 'default' in flag ? ` (default: ${flag.default})` : '';
        return `  --${name}${flag.type === 'string' ? ' VALUE' : ''}${fallback}`;
      });
      return ['usage: pilotlight gateway [options]', '', 'options:', ...rows, '  -h, --help'].join('\n');
    },
  },
  autoscaler: {
    load: () => import('../autoscaler/main.ts'),
    summary: 'run the KPA autoscaler (metrics, PodAutoscaler and ServerlessService reconcilers)',
  },
  'queue-proxy': {
    load: () => import('../queue-proxy/main.ts'),
    summary: "run the sidecar of a revision pod (configured by Knative's environment)",
    help: async () =>
      [
        'usage: pilotlight queue-proxy',
        '',
        'Takes no options: the Revision reconciler configures it through the environment of the',
        "revision pod, with Knative's variables (SERVING_*, USER_PORT, QUEUE_SERVING_PORT,",
        'CONTAINER_CONCURRENCY, REVISION_TIMEOUT_SECONDS, ...) and the QUEUE_* settings of pilotlight.',
      ].join('\n'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: pilotlight <command> [options]',
    '       pilotlight <command> --help      the options of one command',
    '       pilotlight --version',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

const version = () =>
  (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

const [command, ...rest] = process.argv.slice(2);
const fail = (error: unknown) => {
  console.error(`pilotlight ${command}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
};
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage());
} else if (command === '--version' || command === '-v' || command === 'version') {
  console.log(version());
} else if (!COMMANDS[command]) {
  console.error(`pilotlight: unknown command ${JSON.stringify(command)}\n\n${usage()}`);
  process.exit(2);
} else {
  const { load, help } = COMMANDS[command];
  if (help && (rest.includes('--help') || rest.includes('-h'))) help().then(console.log, fail);
  else
    load()
      .then((module) => module.main(rest))
      .catch(fail);
}
