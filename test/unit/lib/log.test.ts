import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { levelOf, parseLoggingConfig } from '../../../lib/config/logging.ts';
import type { ConfigIssue } from '../../../lib/config/parse.ts';
import { createLogger, logLevel, setLogLevel } from '../../../lib/log.ts';

describe('log lines', () => {
  let lines: Record<string, unknown>[];
  beforeEach(() => {
    lines = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      return true;
    });
    setLogLevel('info');
  });
  afterEach(() => {
    vi.restoreAllMocks();
    setLogLevel('info');
  });

  it("carry zap's fields as Knative's config-logging names them, and the caller's file and line", () => {
    createLogger('controller').with({ 'knative.dev/key': 'default/hello' }).info('reconciled', { revision: 'r1' });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({
      severity: 'info',
      logger: 'controller',
      message: 'reconciled',
      'knative.dev/key': 'default/hello',
      revision: 'r1',
    });
    expect(new Date(String(line!.timestamp)).toISOString()).toBe(line!.timestamp);
    expect(line!.caller).toMatch(/^test\/unit\/lib\/log\.test\.ts:\d+$/);
  });

  it('write an error as its message, with its stack in <field>Verbose', () => {
    const error = new Error('connection refused');
    createLogger('gateway').error('upstream failed', { error });
    expect(lines[0]).toMatchObject({ severity: 'error', error: 'connection refused' });
    expect(lines[0]!.errorVerbose).toBe(error.stack);
    expect(lines[0]!.errorVerbose).toMatch(/log\.test\.ts/);
  });

  it('follow the level set at run time, for loggers made before the change too', () => {
    const log = createLogger('autoscaler');
    log.debug('hidden');
    setLogLevel('debug');
    log.debug('shown');
    setLogLevel('error');
    log.warn('hidden too');
    log.error('an error');
    expect(lines.map((l) => l.message)).toEqual(['shown', 'an error']);
    expect(logLevel()).toBe('error');
  });
});

describe('config-logging', () => {
  const zap = (level: string) => JSON.stringify({ level, encoding: 'json', encoderConfig: { levelKey: 'severity' } });

  it("takes zap-logger-config's level for every component and loglevel.<component> for one", () => {
    const config = parseLoggingConfig({
      'zap-logger-config': zap('warn'),
      'loglevel.controller': 'debug',
      'loglevel.webhook': '',
    });
    expect(levelOf(config, 'controller')).toBe('debug');
    expect(levelOf(config, 'webhook')).toBe('warn');
    expect(levelOf(config, 'autoscaler')).toBe('warn');
    expect(levelOf(parseLoggingConfig(), 'activator')).toBe('info');
  });

  it('reads zap levels in any case, the panicking ones as error', () => {
    const config = parseLoggingConfig({ 'loglevel.autoscaler': 'DEBUG', 'loglevel.activator': 'fatal' });
    expect(config.components).toEqual({ autoscaler: 'debug', activator: 'error' });
  });

  it('reports each bad key and keeps the others', () => {
    const issues: ConfigIssue[] = [];
    const config = parseLoggingConfig(
      { 'zap-logger-config': '{"level": "verbose"', 'loglevel.controller': 'loud', 'loglevel.autoscaler': 'warn' },
      (issue) => issues.push(issue),
    );
    expect(config).toEqual({ level: 'info', components: { autoscaler: 'warn' } });
    expect(issues).toEqual([
      { key: 'zap-logger-config', message: 'must be zap\'s JSON configuration, such as {"level": "info"}' },
      { key: 'loglevel.controller', message: 'must be a zap level: debug, info, warn, error, dpanic, panic or fatal' },
    ]);
    const badLevel: ConfigIssue[] = [];
    parseLoggingConfig({ 'zap-logger-config': zap('verbose') }, (issue) => badLevel.push(issue));
    expect(badLevel).toEqual([
      {
        key: 'zap-logger-config',
        message: 'level must be a zap level: debug, info, warn, error, dpanic, panic or fatal',
      },
    ]);
  });
});
