// results.json and results.md of a conformance run: one row per test and subtest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  OUTSIDE_THE_PROJECT,
  PILOTLIGHT_BUGS,
  knownFailureOf,
  type KnownFailure,
  type Suite,
} from './known-failures.ts';

export interface TestResult {
  suite: Suite;
  test: string;
  /** Empty for a top-level test. */
  subtest: string;
  status: 'pass' | 'fail' | 'skip';
  seconds: number;
  /** For a failure its telling line; for a skip the reason. */
  note: string;
}

export interface SuiteResult {
  suite: Suite;
  seconds: number;
  exitCode: number | null;
  /** Set when the binary failed without a failing test (a panic, a bad flag). */
  crashed?: string;
  tests: TestResult[];
}

export interface RunResults {
  date: string;
  commit: string;
  servingVersion: string;
  wallSeconds: number;
  suites: SuiteResult[];
  /** Set when the run stopped before or between suites. */
  error?: string;
  knownFailures: { pilotlightBugs: KnownFailure[]; outsideTheProject: KnownFailure[] };
}

interface TestEvent {
  Action: string;
  Test?: string;
  Elapsed?: number;
  Output?: string;
}

/**
 * The line of a failed test's output that says what went wrong. The suites log as they go and end
 * a failing test with t.Fatal or t.Error from the test file itself, so the last line located in a
 * _test.go file is the message (its continuation lines, such as an object dump, are left out).
 */
function failureLine(output: string[]): string {
  const lines = output
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim() && !/^\s*(--- (FAIL|PASS|SKIP)|=== (RUN|PAUSE|CONT|NAME))/.test(l));
  const located = lines.filter((l) => /^\s+\S+\.go:\d+: /.test(l));
  const line = located.filter((l) => /_test\.go:\d+: /.test(l)).at(-1) ?? located.at(-1) ?? lines.at(-1) ?? '';
  return line.trim().slice(0, 300);
}

function skipReason(output: string[]): string {
  const line =
    output
      .map((l) => l.trim())
      .filter((l) => l && !/^(--- |=== )/.test(l))
      .at(-1) ?? '';
  return line.replace(/^\S+\.go:\d+: /, '').slice(0, 200);
}

/**
 * One suite's rows from its test2json events. Tests left out by -test.skip produce no event at
 * all, so each known failure of the suite that did not run gets a row of its own.
 */
export function suiteResult(suite: Suite, lines: string[], exitCode: number | null, seconds: number): SuiteResult {
  const tests = new Map<string, { action: string; elapsed: number; output: string[] }>();
  const packageOutput: string[] = [];
  for (const line of lines) {
    let event: TestEvent;
    try {
      event = JSON.parse(line) as TestEvent;
    } catch {
      packageOutput.push(line);
      continue;
    }
    if (!event.Test) {
      if (event.Output) packageOutput.push(event.Output);
      continue;
    }
    const entry = tests.get(event.Test) ?? { action: 'run', elapsed: 0, output: [] };
    tests.set(event.Test, entry);
    if (event.Action === 'output' && event.Output) entry.output.push(event.Output);
    else if (['pass', 'fail', 'skip'].includes(event.Action)) {
      entry.action = event.Action;
      entry.elapsed = event.Elapsed ?? 0;
    }
  }
  const rows: TestResult[] = [...tests.entries()].map(([name, entry]) => {
    const [test, ...sub] = name.split('/');
    // A test still "run" when the binary stopped was cut off by the timeout or a panic.
    const status = entry.action === 'run' ? 'fail' : (entry.action as TestResult['status']);
    const failedChild = [...tests.keys()].some(
      (other) => other.startsWith(`${name}/`) && tests.get(other)!.action === 'fail',
    );
    const note =
      status === 'fail'
        ? entry.action === 'run'
          ? `did not finish: ${failureLine(packageOutput)}`
          : failedChild
            ? '(a subtest failed)'
            : failureLine(entry.output)
        : status === 'skip'
          ? skipReason(entry.output)
          : '';
    return { suite, test: test!, subtest: sub.join('/'), status, seconds: entry.elapsed, note };
  });
  for (const known of [...PILOTLIGHT_BUGS, ...OUTSIDE_THE_PROJECT].filter(
    (k) => k.suite === suite && !k.selfSkipping && !tests.has(k.test),
  )) {
    const [test, ...sub] = known.test.split('/');
    rows.push({ suite, test: test!, subtest: sub.join('/'), status: 'skip', seconds: 0, note: '' });
  }
  for (const row of rows) {
    const known = knownFailureOf(suite, row.subtest ? `${row.test}/${row.subtest}` : row.test);
    if (row.status === 'skip' && known)
      row.note = `${known.outside ? 'outside the project' : 'pilotlight bug'}: ${known.reason}`;
  }
  const failed = rows.some((r) => r.status === 'fail');
  // A binary that failed without a failing test (a panic at start, a bad flag) still fails the run.
  const crashed = exitCode !== 0 && !failed ? failureLine(packageOutput) || `exit code ${exitCode}` : undefined;
  return { suite, seconds, exitCode, ...(crashed ? { crashed } : {}), tests: rows };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function writeResults(dir: string, results: RunResults): { passed: number; failed: number; skipped: number } {
  const rows = results.suites.flatMap((s) => s.tests);
  const count = (status: TestResult['status']) => rows.filter((r) => r.status === status).length;
  const summary = {
    passed: count('pass'),
    failed: count('fail') + results.suites.filter((s) => s.crashed).length,
    skipped: count('skip'),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

  const order = (r: TestResult) => `${r.test}\u0000${r.subtest}`;
  const md = [
    '# Knative conformance against pilotlight',
    '',
    `Written by \`npm run test:conformance\` (test/conformance/run.ts). Run of ${results.date} at \`${results.commit}\`,`,
    `knative.dev/serving ${results.servingVersion}; ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`,
    `(tests and subtests) in ${Math.round(results.wallSeconds)} s.`,
    ...(results.error ? ['', `**The run stopped early:** ${cell(results.error)}`] : []),
    '',
    '| suite | wall time (s) | pass | fail | skip | exit |',
    '|---|---:|---:|---:|---:|---|',
    ...results.suites.map((s) => {
      const n = (status: TestResult['status']) => s.tests.filter((t) => t.status === status).length;
      return `| ${s.suite} | ${Math.round(s.seconds)} | ${n('pass')} | ${n('fail')} | ${n('skip')} | ${s.exitCode}${s.crashed ? `: ${cell(s.crashed)}` : ''} |`;
    }),
    '',
    '| suite | test | subtest | result | s | first failure line / skip reason |',
    '|---|---|---|---|---:|---|',
    ...results.suites.flatMap((s) =>
      [...s.tests]
        .sort((a, b) => order(a).localeCompare(order(b)))
        .map(
          (r) =>
            `| ${r.suite} | ${r.test} | ${r.subtest} | ${r.status === 'fail' ? '**FAIL**' : r.status} | ${r.seconds.toFixed(1)} | ${cell(r.note)} |`,
        ),
    ),
    '',
    '## Skipped on purpose (test/conformance/known-failures.ts)',
    '',
    'pilotlight bugs not fixed yet:',
    '',
    ...(results.knownFailures.pilotlightBugs.length
      ? results.knownFailures.pilotlightBugs.map((k) => `- ${k.suite} \`${k.test}\`: ${k.reason}`)
      : ['- none']),
    '',
    'Outside the project:',
    '',
    ...(results.knownFailures.outsideTheProject.length
      ? results.knownFailures.outsideTheProject.map((k) => `- ${k.suite} \`${k.test}\`: ${k.reason}`)
      : ['- none']),
    '',
  ];
  writeFileSync(join(dir, 'results.md'), md.join('\n'));
  return summary;
}
