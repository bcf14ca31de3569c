// Reads a response as it streams, noting when its head and each chunk arrived, so tests can tell
// a response passed on as it is written from one buffered until complete.
import { request, type Dispatcher } from 'undici';

export interface Streamed {
  status: number;
  /** Milliseconds from sending the request to the head, to each chunk, and to the end. */
  headAtMs: number;
  chunks: Array<{ atMs: number; text: string }>;
  endAtMs: number;
  body: string;
}

export async function readStreamed(
  url: string,
  options: { dispatcher?: Dispatcher; headers?: Record<string, string> } = {},
): Promise<Streamed> {
  const startedAt = performance.now();
  const res = await request(url, { ...options });
  const headAtMs = performance.now() - startedAt;
  const chunks: Streamed['chunks'] = [];
  for await (const chunk of res.body)
    chunks.push({ atMs: performance.now() - startedAt, text: (chunk as Buffer).toString('utf8') });
  return {
    status: res.statusCode,
    headAtMs,
    chunks,
    endAtMs: performance.now() - startedAt,
    body: chunks.map((c) => c.text).join(''),
  };
}
