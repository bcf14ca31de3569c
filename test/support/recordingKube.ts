// Fakes for table tests of reconcilers' fault branches, which a real API server rarely produces on
// cue: a KubeRest that records every call and answers from a script, and an EventRecorder that
// records instead of writing Events.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { EventRecorder, EventType } from '../../lib/kube/events.ts';
import { KubeApiError, type HttpMethod, type KubeRest, type RequestOptions } from '../../lib/kube/rest.ts';

export interface RecordedCall {
  method: HttpMethod;
  path: string;
  body?: unknown;
}

/** An answer to a call: the object returned, or an API error with its status code. */
export type ScriptedAnswer = { object: unknown } | { status: number; message?: string };

export class RecordingKube implements KubeRest {
  readonly calls: RecordedCall[] = [];
  readonly #answers: ((call: RecordedCall) => ScriptedAnswer | undefined)[] = [];

  /** Answers calls matching `method path` with `answer`; later rules win. Unmatched calls echo their body. */
  on(method: HttpMethod, path: string, answer: ScriptedAnswer): this {
    this.#answers.unshift((call) => (call.method === method && call.path === path ? answer : undefined));
    return this;
  }

  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const call: RecordedCall = { method, path, ...(options.body === undefined ? {} : { body: options.body }) };
    this.calls.push(call);
    const answer = this.#answers.map((rule) => rule(call)).find((found) => found !== undefined);
    if (answer && 'status' in answer)
      throw new KubeApiError(answer.status, answer.message ?? `status ${answer.status}`);
    return structuredClone((answer ? answer.object : options.body) as T);
  }

  watch(): AsyncIterable<never> {
    throw new Error('RecordingKube does not watch');
  }

  /** The calls as `METHOD path`, the easiest form to compare. */
  get lines(): string[] {
    return this.calls.map((call) => `${call.method} ${call.path}`);
  }
}

export interface RecordedEvent {
  object: string;
  type: EventType;
  reason: string;
  message: string;
}

export function recordingEvents(): { recorder: EventRecorder; events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  const recorder = {
    async event(object: KubernetesObject, type: EventType, reason: string, message: string) {
      events.push({ object: object.metadata?.name ?? '', type, reason, message });
    },
  } as unknown as EventRecorder;
  return { recorder, events };
}
