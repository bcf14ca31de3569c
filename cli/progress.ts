// Long steps of `up` and `image push` say when they start, keep saying they are still running, and
// say how long they took, so minutes of apt-get, builds or `helm --wait` never look like a hang.

export type Log = (line: string) => void;

/** Runs work under label ("building the operator image"), logging every `everyMs` while it runs. */
export async function step<T>(log: Log, label: string, work: () => Promise<T>, everyMs = 15_000): Promise<T> {
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
  log(`${label} ...`);
  const heartbeat = setInterval(() => log(`  still ${label} (${seconds()} s)`), everyMs);
  try {
    const result = await work();
    log(`${label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  } finally {
    clearInterval(heartbeat);
  }
}
