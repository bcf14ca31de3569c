// What queue-proxy loads before it serves: every pod starts one on the cold-start path and keeps
// it for its life, so the built-ins it does not need at start (Node's bundled undici, which
// brings node:http2, node:tls and node:zlib) must stay unloaded. One `import … from 'node:http'`
// anywhere in its graph loads them all (lib/http/builtins.ts says why).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const QUEUE_PROXY = fileURLToPath(new URL('../../../queue-proxy/main.ts', import.meta.url));

describe('queue-proxy start-up', () => {
  it('loads neither undici nor node:http2, node:tls or node:zlib with its modules', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(QUEUE_PROXY)}); console.log(JSON.stringify(process.moduleLoadList));`,
      ],
      { timeout: 30_000 },
    );
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => /^NativeModule (internal\/deps\/undici|http2|tls|zlib)\b/.test(m))).toEqual([]);
  });
});
