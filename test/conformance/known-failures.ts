// The conformance tests the runner skips, each with why. They are skipped through the test
// binaries' own -test.skip, never by editing a suite, and results.md shows them as skipped with
// the reason given here.
//
// `test` is the full Go test name as `go test` prints it: subtests after a slash, spaces turned
// into underscores. A top-level name skips all of its subtests.

export const SUITES = ['api-v1', 'api-v1beta1', 'runtime', 'ingress'] as const;
export type Suite = (typeof SUITES)[number];

export interface KnownFailure {
  suite: Suite;
  /** Or `any/<name>`: every subtest of that name (with Go's #NN suffixes), wherever it is. */
  test: string;
  reason: string;
  /** The suite skips it by itself here; listed for its reason only, not passed to -test.skip. */
  selfSkipping?: boolean;
}

/**
 * Failing because of a pilotlight bug not fixed yet (issue #14 lists them). Remove an entry when
 * its fix lands, so the test runs again.
 */
export const PILOTLIGHT_BUGS: KnownFailure[] = [];

/**
 * Cannot pass on the local cluster for a reason outside the project; kept skipped on purpose.
 */
export const OUTSIDE_THE_PROJECT: KnownFailure[] = [];

/** Escapes a test name's part for Go's regexp syntax. */
const quote = (part: string) => part.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/**
 * The -test.skip pattern for a suite, or undefined when it skips nothing. Go splits the pattern at
 * top-level `|` into alternatives and each alternative at `/` into one regexp per name level; a
 * test is skipped when an alternative matches every level of its name.
 */
export function skipPattern(
  suite: Suite,
  entries: KnownFailure[] = [...PILOTLIGHT_BUGS, ...OUTSIDE_THE_PROJECT],
): string | undefined {
  const names = entries.filter((entry) => entry.suite === suite && !entry.selfSkipping).map((entry) => entry.test);
  if (names.length === 0) return undefined;
  return names
    .map((name) =>
      name
        .split('/')
        .map((part) => `^${quote(part)}$`)
        .join('/'),
    )
    .join('|');
}

/** The entry that skips a test (by its own name or an ancestor's), if any. */
export function knownFailureOf(suite: Suite, test: string): (KnownFailure & { outside: boolean }) | undefined {
  const covers = (entry: KnownFailure) =>
    entry.suite === suite &&
    (entry.test.startsWith('any/')
      ? new RegExp(`/${quote(entry.test.slice(4))}(#\\d+)?$`).test(test)
      : test === entry.test || test.startsWith(`${entry.test}/`));
  const bug = PILOTLIGHT_BUGS.find(covers);
  if (bug) return { ...bug, outside: false };
  const outside = OUTSIDE_THE_PROJECT.find(covers);
  return outside ? { ...outside, outside: true } : undefined;
}
