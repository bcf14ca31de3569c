// Structured JSON logs, one object per line on stderr, with the fields zap writes under Knative's
// config-logging encoder (severity, timestamp, logger, caller, message), so the log pipelines built
// for Knative read pilotlight's lines unchanged. The level is the process's, changeable at run time
// (config-logging through lib/config/logging.ts; PILOTLIGHT_LOG_LEVEL until it is read).
import { dirname } from 'node:path';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  with(fields: Record<string, unknown>): Logger;
}

const initialLevel = process.env.PILOTLIGHT_LOG_LEVEL as Level | undefined;
let threshold = RANK[initialLevel ?? 'info'] ?? RANK.info;

/** Sets the level of every logger in the process, from the next line on. */
export function setLogLevel(level: Level): void {
  threshold = RANK[level];
}

/** zap's level names; the three above error stop a Go process, here they log as errors. */
const ZAP_LEVELS: Record<string, Level> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  dpanic: 'error',
  panic: 'error',
  fatal: 'error',
};
export const ZAP_LEVEL_RULE = 'must be a zap level: debug, info, warn, error, dpanic, panic or fatal';

/** The level a zap level name (any case) logs at here; undefined for anything else. */
export const zapLevel = (text: string): Level | undefined => ZAP_LEVELS[text.trim().toLowerCase()];

export function logLevel(): Level {
  return (Object.keys(RANK) as Level[]).find((level) => RANK[level] === threshold) ?? 'info';
}

/** The folder above lib/, which callers' paths are given relative to, as zap's short caller is. */
const ROOT = `${dirname(dirname(new URL(import.meta.url).pathname))}/`;
const FRAME = /\(?(?:file:\/\/)?([^\s()]+):(\d+):\d+\)?$/;

/** `controllers/route/reconciler.ts:42` for the function that called `above`. */
function callerOf(above: (...args: never[]) => void): string {
  const site: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  Error.captureStackTrace(site, above);
  Error.stackTraceLimit = limit;
  const frame = FRAME.exec(site.stack?.split('\n')[1]?.trim() ?? '');
  if (!frame) return 'unknown';
  const path = frame[1]!.startsWith(ROOT) ? frame[1]!.slice(ROOT.length) : frame[1]!;
  return `${path}:${frame[2]}`;
}

/**
 * An Error field is written as its message, and its stack beside it as `<field>Verbose`, as zap
 * writes an error that carries one; the stack stays in the log, never in an answer to a client.
 */
function encodeFields(entry: Record<string, unknown>, fields: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      entry[key] = value.message;
      if (value.stack) entry[`${key}Verbose`] = value.stack;
    } else {
      entry[key] = value;
    }
  }
}

export function createLogger(component: string, base: Record<string, unknown> = {}): Logger {
  const at = (level: Level) =>
    function log(msg: string, fields?: Record<string, unknown>): void {
      if (RANK[level] < threshold) return;
      const entry: Record<string, unknown> = {
        severity: level,
        timestamp: new Date().toISOString(),
        logger: component,
        caller: callerOf(log),
        message: msg,
      };
      encodeFields(entry, base);
      if (fields) encodeFields(entry, fields);
      process.stderr.write(`${JSON.stringify(entry)}\n`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    with: (fields) => createLogger(component, { ...base, ...fields }),
  };
}
