import { describe, expect, it } from 'vitest';
import { upstreamRequestHeaders } from '../../../lib/http/headers.ts';

describe('upstreamRequestHeaders', () => {
  it('drops what Connection names, except Host, which no client may take from the app', () => {
    const raw = ['Host', 'app.example.com', 'Connection', 'host, x-secret', 'X-Secret', '1', 'Accept', '*/*'];
    const headers = { host: 'app.example.com', connection: 'host, x-secret', 'x-secret': '1', accept: '*/*' };
    expect(upstreamRequestHeaders(raw, headers)).toEqual(['Host', 'app.example.com', 'Accept', '*/*']);
  });
});
