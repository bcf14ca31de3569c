#!/usr/bin/env node
// pilotlight: one entry point for every component and for managing a local cluster. Each command
// loads only its own modules, so a queue-proxy sidecar never pays for the controller's libraries.

interface Command {
  load: () => Promise<{ main: (argv: string[]) => Promise<void> }>;
  summary: string;
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
  },
  autoscaler: {
    load: () => import('../autoscaler/main.ts'),
    summary: 'run the KPA autoscaler (metrics, PodAutoscaler and ServerlessService reconcilers)',
  },
  'queue-proxy': {
    load: () => import('../queue-proxy/main.ts'),
    summary: "run the sidecar of a revision pod (configured by Knative's environment)",
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: pilotlight <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage());
} else if (!COMMANDS[command]) {
  console.error(`pilotlight: unknown command ${JSON.stringify(command)}\n\n${usage()}`);
  process.exit(2);
} else {
  COMMANDS[command]
    .load()
    .then((module) => module.main(rest))
    .catch((error: unknown) => {
      console.error(`pilotlight ${command}: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    });
}
