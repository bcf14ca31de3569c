// The phases of one cold start, from timestamps the components, containerd and a watch on the
// cluster leave behind: which milestone was reached when, then how long each step on the way took.
// Everything here is pure; bench/coldstart.ts gathers the lines and the watch's observations.

/** The milestones of a request to a revision at zero, in the order the request needs them. */
export const MILESTONES = [
  { key: 'sent', label: 'request sent (bench client)' },
  { key: 'activatorPoked', label: 'activator holds it, pokes the autoscaler' },
  { key: 'autoscalerDecided', label: 'autoscaler decides' },
  { key: 'scaleWritten', label: '/scale written' },
  { key: 'podCreated', label: 'Deployment → ReplicaSet → pod created' },
  { key: 'podBound', label: 'scheduler binds the pod' },
  { key: 'sandboxStarted', label: 'kubelet asks for the sandbox' },
  { key: 'sandboxReady', label: 'sandbox + CNI ready' },
  { key: 'appContainerStarted', label: 'user-container created + started' },
  { key: 'queueContainerStarted', label: 'queue-proxy container created + started' },
  { key: 'appListening', label: 'app process listening' },
  { key: 'queueProxyListening', label: 'queue-proxy process listening' },
  { key: 'queueProxySawAppReady', label: "queue-proxy's first successful probe" },
  { key: 'activatorAnnounced', label: 'activator learns the pod (announce)' },
  // Right after the announce; without one (refused, lost), when the Endpoints list the pod.
  { key: 'activatorLearnedPod', label: 'activator starts probing the pod (endpoints, if not announced)' },
  { key: 'activatorProbeOk', label: "activator's probe answered, request forwarded" },
  { key: 'response', label: 'response received' },
] as const;

export type MilestoneKey = (typeof MILESTONES)[number]['key'];

/** Observed beside the request's path, not on it (the activator does not wait for them). */
export const SIDE_MILESTONES = [
  { key: 'deploymentScaled', label: 'Deployment spec.replicas > 0 seen by a watch' },
  { key: 'podIPSeen', label: 'pod IP in pod status seen by a watch' },
  { key: 'endpointsAddressSeen', label: 'pod address in the private Endpoints seen by a watch' },
  { key: 'podReadySeen', label: "kubelet's readiness: pod Ready seen by a watch" },
  { key: 'endpointsReadySeen', label: 'address ready in the private Endpoints seen by a watch' },
] as const;

export type SideMilestoneKey = (typeof SIDE_MILESTONES)[number]['key'];

/** Epoch milliseconds (fractions allowed) at which each milestone was reached, when known. */
export type Marks = Partial<Record<MilestoneKey | SideMilestoneKey, number>>;

export interface Phase {
  key: MilestoneKey;
  label: string;
  /** Time spent reaching this milestone after the latest earlier one; undefined when not observed. */
  ms: number | undefined;
}

/**
 * One phase per milestone after `sent`: the time from the latest milestone reached before it (in
 * the list's order) to this one, 0 when it was reached before that (steps that overlap, such as
 * the app and queue-proxy starting side by side, count once, on the one that finished last).
 * An unobserved milestone's time goes to the next observed one, so the phases add up to the
 * whole request.
 */
export function phasesOf(marks: Marks): Phase[] {
  const sent = marks.sent;
  if (sent === undefined || marks.response === undefined) throw new Error('marks: sent and response are required');
  let latest = sent;
  return MILESTONES.slice(1).map(({ key, label }) => {
    const at = marks[key];
    if (at === undefined) return { key, label, ms: undefined };
    const ms = Math.max(0, at - latest);
    latest = Math.max(latest, at);
    return { key, label, ms };
  });
}

/** Each side milestone's time after `sent`, for those observed. */
export function sideOffsets(marks: Marks): Partial<Record<SideMilestoneKey, number>> {
  const sent = marks.sent ?? 0;
  return Object.fromEntries(
    SIDE_MILESTONES.flatMap(({ key }) => (marks[key] === undefined ? [] : [[key, marks[key]! - sent]])),
  );
}

/** Epoch ms of an RFC 3339 time with up to nanosecond fractions, which Date.parse would cut to ms. */
export function parseRfc3339(text: string): number {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) throw new Error(`not an RFC 3339 time: ${JSON.stringify(text)}`);
  return Date.parse(`${match[1]}${match[3]}`) + Number(`0${match[2] ?? ''}`) * 1000;
}

/** A JSON log line's `message` and `timestamp` (zap's names), with its other fields; undefined for other lines. */
export function zapEntry(line: string): { message: string; at: number; fields: Record<string, unknown> } | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    const fields = JSON.parse(line.slice(start)) as Record<string, unknown>;
    if (typeof fields.message !== 'string' || typeof fields.timestamp !== 'string') return undefined;
    return { message: fields.message, at: parseRfc3339(fields.timestamp), fields };
  } catch {
    return undefined;
  }
}

/**
 * The earliest time at or after `after` that a line with this message (and fields that match)
 * was logged; lines from several replicas may be interleaved in any order.
 */
export function firstLogged(
  lines: readonly string[],
  message: string,
  after: number,
  matches: (fields: Record<string, unknown>) => boolean = () => true,
): number | undefined {
  let first: number | undefined;
  for (const line of lines) {
    const entry = zapEntry(line);
    if (entry === undefined || entry.message !== message || entry.at < after || !matches(entry.fields)) continue;
    if (first === undefined || entry.at < first) first = entry.at;
  }
  return first;
}

/** The first line of `kubectl logs --timestamps` output (the runtime's time, ns) whose text matches. */
export function firstTimestamped(lines: readonly string[], pattern: RegExp): number | undefined {
  for (const line of lines) {
    const space = line.indexOf(' ');
    if (space > 0 && pattern.test(line.slice(space + 1))) return parseRfc3339(line.slice(0, space));
  }
  return undefined;
}

/**
 * From containerd's CRI log lines: when the kubelet asked for the pod's sandbox, when the sandbox
 * (network included) was ready, and when each named container's StartContainer returned.
 */
export function containerdMarks(
  lines: readonly string[],
  pod: string,
): { sandboxStarted?: number; sandboxReady?: number; containerStarted: Record<string, number> } {
  const out: { sandboxStarted?: number; sandboxReady?: number; containerStarted: Record<string, number> } = {
    containerStarted: {},
  };
  let sandbox: string | undefined;
  const containerName = new Map<string, string>();
  for (const line of lines) {
    const time = /^time="([^"]+)"/.exec(line)?.[1];
    if (time === undefined) continue;
    const at = parseRfc3339(time);
    if (line.includes(`RunPodSandbox for &PodSandboxMetadata{Name:${pod},`)) {
      const id = /returns sandbox id \\"([0-9a-f]+)\\"/.exec(line)?.[1];
      if (id === undefined) out.sandboxStarted ??= at;
      else if (sandbox === undefined) {
        sandbox = id;
        out.sandboxReady = at;
      }
      continue;
    }
    if (sandbox === undefined) continue;
    const created =
      /CreateContainer within sandbox \\"([0-9a-f]+)\\" for &ContainerMetadata\{Name:([^,]+),.*returns container id \\"([0-9a-f]+)\\"/.exec(
        line,
      );
    if (created?.[1] === sandbox) {
      containerName.set(created[3]!, created[2]!);
      continue;
    }
    const started = /StartContainer for \\"([0-9a-f]+)\\" returns successfully/.exec(line);
    const name = started ? containerName.get(started[1]!) : undefined;
    if (name !== undefined) out.containerStarted[name] ??= at;
  }
  return out;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Per milestone, the median of its phase over the tries that observed it, and how many did. */
export function medianPhases(
  tries: readonly Phase[][],
): { key: MilestoneKey; label: string; ms: number; observed: number }[] {
  return MILESTONES.slice(1).map(({ key, label }) => {
    const values = tries.flatMap((phases) =>
      phases.filter((p) => p.key === key && p.ms !== undefined).map((p) => p.ms!),
    );
    return { key, label, ms: values.length === 0 ? 0 : median(values), observed: values.length };
  });
}
