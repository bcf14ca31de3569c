import { describe, expect, it } from 'vitest';
import { isHttp09RequestLine } from '../../../lib/http/server.ts';

const line = (text: string) => isHttp09RequestLine(Buffer.from(text, 'latin1'));

describe('isHttp09RequestLine', () => {
  it('finds a request line without a version', () => {
    expect(line('GET /\r\n')).toBe(true);
    expect(line('GET /\n')).toBe(true);
    expect(line('\r\nGET /index.html\r\n')).toBe(true);
  });

  it('leaves HTTP/1.x request lines, and lines not yet complete, to the parser', () => {
    expect(line('GET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(false);
    expect(line('\r\nGET / HTTP/1.0\r\n')).toBe(false);
    expect(line('GET / HT')).toBe(false);
    expect(line('')).toBe(false);
  });
});
