// Flags of the CLI's own commands (up, down, status, image push): parsed strictly, with a --help
// generated from the same table, so an option and its description cannot drift apart.
import { type ParseArgsOptionDescriptor, parseArgs } from 'node:util';

export type OptionSpec = ParseArgsOptionDescriptor & {
  description: string;
  /** The value's placeholder in the help text (`--state-dir DIR`). */
  value?: string;
};

/** The help text of a command: its usage line, what it does, then each option with its default. */
export function helpText(usage: string, summary: string, options: Record<string, OptionSpec>): string {
  const all: Record<string, OptionSpec> = {
    ...options,
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  };
  const rows = Object.entries(all).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const fallback = o.type === 'string' && typeof o.default === 'string' ? ` (default: ${o.default})` : '';
    return [flag, `${o.description}${fallback}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [`usage: ${usage}`, '', summary, '', 'options:', ...rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`)].join(
    '\n',
  );
}

/**
 * Parses argv against options (unknown flags and stray arguments are refused, naming them), or
 * prints the help and returns undefined when --help is given.
 */
export function parseCommand<O extends Record<string, OptionSpec>>(
  argv: string[],
  command: { usage: string; summary: string; options: O },
) {
  type Config = {
    args: string[];
    options: O & { help: { type: 'boolean'; short: 'h' } };
    strict: true;
    allowPositionals: false;
  };
  const { values } = parseArgs<Config>({
    args: argv,
    options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if ((values as { help?: boolean }).help) {
    console.log(helpText(command.usage, command.summary, command.options));
    return undefined;
  }
  return values;
}
