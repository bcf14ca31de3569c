import { describe, expect, it } from 'vitest';
import {
  containerdMarks,
  firstLogged,
  firstTimestamped,
  median,
  medianPhases,
  parseRfc3339,
  phasesOf,
  sideOffsets,
  type Marks,
} from '../../../bench/support/coldstartTimeline.ts';

const T = Date.parse('2026-12-07T12:00:00Z');

describe('phasesOf', () => {
  it('gives each milestone the time since the latest earlier one, so the phases add up to the request', () => {
    const marks: Marks = {
      sent: T,
      activatorPoked: T + 5,
      autoscalerDecided: T + 7,
      scaleWritten: T + 20,
      podCreated: T + 60,
      response: T + 500,
    };
    const phases = phasesOf(marks);
    const ms = Object.fromEntries(phases.map((p) => [p.key, p.ms]));
    expect(ms).toMatchObject({
      activatorPoked: 5,
      autoscalerDecided: 2,
      scaleWritten: 13,
      podCreated: 40,
      response: 440,
    });
    expect(ms.podBound).toBeUndefined();
    expect(phases.reduce((sum, p) => sum + (p.ms ?? 0), 0)).toBe(500);
  });

  it('counts overlapping steps once: a milestone reached before an earlier one takes 0', () => {
    const phases = phasesOf({ sent: T, appListening: T + 300, queueProxyListening: T + 200, response: T + 400 });
    const ms = Object.fromEntries(phases.map((p) => [p.key, p.ms]));
    expect(ms).toMatchObject({ appListening: 300, queueProxyListening: 0, response: 100 });
  });

  it('refuses marks without the request and its response', () => {
    expect(() => phasesOf({ sent: T })).toThrow(/sent and response are required/);
  });
});

describe('sideOffsets', () => {
  it('gives the milestones beside the path as times after the request, leaving out the unseen', () => {
    expect(sideOffsets({ sent: T, podReadySeen: T + 900, endpointsReadySeen: T + 950 })).toEqual({
      podReadySeen: 900,
      endpointsReadySeen: 950,
    });
  });
});

describe('parseRfc3339', () => {
  it('keeps the fractions below a millisecond that Date.parse drops', () => {
    expect(parseRfc3339('2026-12-07T12:00:00.123456789Z') - T).toBeCloseTo(123.456789, 5);
    expect(parseRfc3339('2026-12-07T12:00:01Z') - T).toBe(1000);
    expect(parseRfc3339('2026-12-07T13:00:00.5+01:00') - T).toBe(500);
  });

  it('names the text it cannot read', () => {
    expect(() => parseRfc3339('yesterday')).toThrow(/not an RFC 3339 time: "yesterday"/);
  });
});

describe('firstLogged', () => {
  const line = (message: string, ms: number, fields: Record<string, unknown> = {}) =>
    JSON.stringify({ severity: 'info', timestamp: new Date(T + ms).toISOString(), message, ...fields });

  it('finds the earliest matching line at or after a time, across interleaved replicas', () => {
    const lines = [
      line('scaled', 50, { from: 0 }),
      'not json',
      line('scaled', 30, { from: 0 }),
      line('scaled', 10, { from: 1 }),
      line('scaled', -5, { from: 0 }),
      line('other', 1, { from: 0 }),
    ];
    expect(firstLogged(lines, 'scaled', T, (f) => f.from === 0)).toBe(T + 30);
    expect(firstLogged(lines, 'scaled', T)).toBe(T + 10);
    expect(firstLogged(lines, 'missing', T)).toBeUndefined();
  });

  it('reads lines with a prefix before the JSON, as kubectl --prefix writes them', () => {
    expect(firstLogged([`[pod/a/c] ${line('ready', 3)}`], 'ready', T)).toBe(T + 3);
  });
});

describe('firstTimestamped', () => {
  it("takes the runtime's timestamp of the first line whose text matches", () => {
    const lines = [
      '2026-12-07T12:00:00.100000000Z starting',
      '2026-12-07T12:00:00.250000000Z {"msg":"helloworld listening"}',
    ];
    expect(firstTimestamped(lines, /helloworld listening/)).toBeCloseTo(T + 250, 6);
    expect(firstTimestamped(lines, /nothing/)).toBeUndefined();
  });
});

describe('containerdMarks', () => {
  const pod = 'cold-00001-deployment-abc-xyz';
  const sandbox = 'a'.repeat(64);
  const app = 'b'.repeat(64);
  const queue = 'c'.repeat(64);
  const other = 'd'.repeat(64);
  const at = (s: string) => `time="2026-12-07T12:00:00.${s}Z" level=info`;
  const lines = [
    `${at('100000000')} msg="RunPodSandbox for &PodSandboxMetadata{Name:${pod},Uid:u,Namespace:default,Attempt:0,}"`,
    `${at('110000000')} msg="RunPodSandbox for &PodSandboxMetadata{Name:other-pod,Uid:v,Namespace:default,Attempt:0,}"`,
    `${at('400000000')} msg="RunPodSandbox for &PodSandboxMetadata{Name:${pod},Uid:u,Namespace:default,Attempt:0,} returns sandbox id \\"${sandbox}\\""`,
    `${at('410000000')} msg="CreateContainer within sandbox \\"${sandbox}\\" for &ContainerMetadata{Name:user-container,Attempt:0,} returns container id \\"${app}\\""`,
    `${at('420000000')} msg="CreateContainer within sandbox \\"${'e'.repeat(64)}\\" for &ContainerMetadata{Name:queue-proxy,Attempt:0,} returns container id \\"${other}\\""`,
    `${at('450000000')} msg="StartContainer for \\"${app}\\" returns successfully"`,
    `${at('460000000')} msg="CreateContainer within sandbox \\"${sandbox}\\" for &ContainerMetadata{Name:queue-proxy,Attempt:0,} returns container id \\"${queue}\\""`,
    `${at('470000000')} msg="StartContainer for \\"${other}\\" returns successfully"`,
    `${at('500000000')} msg="StartContainer for \\"${queue}\\" returns successfully"`,
  ];

  it("takes the pod's sandbox request and readiness and its own containers' starts, not another pod's", () => {
    const marks = containerdMarks(lines, pod);
    expect(marks.sandboxStarted).toBeCloseTo(T + 100, 6);
    expect(marks.sandboxReady).toBeCloseTo(T + 400, 6);
    expect(marks.containerStarted['user-container']).toBeCloseTo(T + 450, 6);
    expect(marks.containerStarted['queue-proxy']).toBeCloseTo(T + 500, 6);
  });

  it('finds nothing for a pod the log does not mention', () => {
    expect(containerdMarks(lines, 'absent')).toEqual({ containerStarted: {} });
  });
});

describe('median and medianPhases', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('takes each phase over the tries that saw it and says how many did', () => {
    const tries = [
      phasesOf({ sent: T, podCreated: T + 100, response: T + 200 }),
      phasesOf({ sent: T, podCreated: T + 300, response: T + 400 }),
      phasesOf({ sent: T, response: T + 150 }),
    ];
    const phases = Object.fromEntries(medianPhases(tries).map((p) => [p.key, p]));
    expect(phases.podCreated).toMatchObject({ ms: 200, observed: 2 });
    expect(phases.response).toMatchObject({ ms: 100, observed: 3 });
    expect(phases.podBound).toMatchObject({ ms: 0, observed: 0 });
  });
});
