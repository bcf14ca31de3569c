import { afterEach, describe, expect, it, vi } from 'vitest';
import { helpText, parseCommand } from '../../../cli/args.ts';

const COMMAND = {
  usage: 'pilotlight thing [--state-dir DIR] [--local]',
  summary: 'Does a thing.',
  options: {
    local: { type: 'boolean', description: 'here' },
    'state-dir': { type: 'string', value: 'DIR', default: '/var/x', description: 'where' },
  },
} as const;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseCommand', () => {
  it('returns the values with their defaults', () => {
    expect(parseCommand(['--local'], COMMAND)).toEqual({ local: true, 'state-dir': '/var/x' });
    expect(parseCommand(['--state-dir', '/tmp/y'], COMMAND)).toEqual({ 'state-dir': '/tmp/y' });
  });

  it('refuses an unknown option and a stray argument, naming them', () => {
    expect(() => parseCommand(['--bogus'], COMMAND)).toThrow(/Unknown option '--bogus'/);
    expect(() => parseCommand(['stray'], COMMAND)).toThrow(/Unexpected argument 'stray'/);
  });

  it('prints the help for --help and -h, and returns nothing to run', () => {
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => printed.push(line));
    expect(parseCommand(['--help'], COMMAND)).toBeUndefined();
    expect(parseCommand(['-h'], COMMAND)).toBeUndefined();
    const help = helpText(COMMAND.usage, COMMAND.summary, COMMAND.options);
    expect(printed).toEqual([help, help]);
  });
});

describe('helpText', () => {
  it('lists every option with its value placeholder and default, then --help', () => {
    expect(helpText(COMMAND.usage, COMMAND.summary, COMMAND.options).split('\n')).toEqual([
      'usage: pilotlight thing [--state-dir DIR] [--local]',
      '',
      'Does a thing.',
      '',
      'options:',
      '  --local          here',
      '  --state-dir DIR  where (default: /var/x)',
      '  -h, --help       show this help',
    ]);
  });
});
