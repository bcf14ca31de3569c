// The listener's bounds are checked once, naming the field and the rule, so a process with a
// bound that would leave a connection phase open (or that node would refuse) does not start.
import { describe, expect, it } from 'vitest';
import { connectionLimitsProblem, DEFAULT_CONNECTION_LIMITS } from '../../../lib/http/server.ts';

describe('connectionLimitsProblem', () => {
  it('accepts the defaults and a request-receive timeout of 0 (off)', () => {
    expect(connectionLimitsProblem(DEFAULT_CONNECTION_LIMITS)).toBeUndefined();
    expect(connectionLimitsProblem({ ...DEFAULT_CONNECTION_LIMITS, requestReceiveTimeoutMs: 300_000 })).toBeUndefined();
  });

  it.each([
    [{ headersTimeoutMs: 0 }, 'headersTimeoutMs: must be above 0'],
    [{ keepAliveTimeoutMs: 0 }, 'keepAliveTimeoutMs: must be above 0'],
    [{ maxHeaderBytes: 100 }, 'maxHeaderBytes: 100 must be a whole number of at least 1024'],
    [{ requestReceiveTimeoutMs: -1 }, 'requestReceiveTimeoutMs: must be 0 (off) or above'],
    [
      { requestReceiveTimeoutMs: 1000 },
      'requestReceiveTimeoutMs: must be 0 (off) or at least headersTimeoutMs (60000ms)',
    ],
  ])('names the field and the rule for %o', (change, problem) => {
    expect(connectionLimitsProblem({ ...DEFAULT_CONNECTION_LIMITS, ...change })).toBe(problem);
  });

  it('names the settings as they are configured when told their names', () => {
    const names = {
      maxHeaderBytes: '--max-header-bytes',
      headersTimeoutMs: '--headers-timeout',
      requestReceiveTimeoutMs: '--request-receive-timeout',
      keepAliveTimeoutMs: '--keep-alive-timeout',
    };
    expect(connectionLimitsProblem({ ...DEFAULT_CONNECTION_LIMITS, headersTimeoutMs: 0 }, names)).toBe(
      '--headers-timeout: must be above 0',
    );
  });
});
