// The loop of a stand-in for a cluster component (kubelet, controllers): one pass, a pause,
// again, until stopped.

export class PollingLoop {
  readonly #pass: () => Promise<void>;
  readonly #intervalMs: number;
  readonly #name: string;
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** What stopped the loop, rethrown by stop() so that a broken stand-in fails the test. */
  #failure: unknown;

  constructor(name: string, intervalMs: number, pass: () => Promise<void>) {
    this.#name = name;
    this.#intervalMs = intervalMs;
    this.#pass = pass;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Waits for the pass under way and rethrows what ended the loop, if anything did. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#pass();
      } catch (error) {
        // Said at once: the test's waits would otherwise only time out.
        console.error(`${this.#name} failed`, error);
        this.#failure = error;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#intervalMs));
    }
  }
}
