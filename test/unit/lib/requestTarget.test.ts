import { describe, expect, it } from 'vitest';
import { checkRequestTarget, normalizeRequestTarget } from '../../../lib/http/requestTarget.ts';

const h1 = (url: string, rawHeaders: string[]) => ({
  url,
  httpVersionMajor: 1,
  rawHeaders,
  headers: Object.fromEntries(
    rawHeaders.flatMap((value, i) => (i % 2 === 0 ? [[value.toLowerCase(), rawHeaders[i + 1]!]] : [])),
  ),
});

describe('checkRequestTarget', () => {
  it('takes the origin-form with its Host', () => {
    expect(checkRequestTarget(h1('/a?b', ['Host', 'app.example.com']))).toEqual({
      ok: true,
      authority: 'app.example.com',
      path: '/a?b',
      absolute: false,
    });
  });

  it("lets an absolute-form target's authority win over Host (RFC 9112 §3.2.2)", () => {
    expect(checkRequestTarget(h1('http://evil.example/x?y', ['Host', 'app.example.com']))).toEqual({
      ok: true,
      authority: 'evil.example',
      path: '/x?y',
      absolute: true,
    });
    expect(checkRequestTarget(h1('HTTP://a.example:8080', ['Host', 'b']))).toMatchObject({
      authority: 'a.example:8080',
      path: '/',
    });
    expect(checkRequestTarget(h1('http://a.example?q', ['Host', 'b']))).toMatchObject({ path: '/?q' });
  });

  it.each([
    ['two Host headers', h1('/', ['Host', 'a', 'host', 'b'])],
    ['the asterisk-form', h1('*', ['Host', 'a'])],
    ['a target of another form', h1('a.example:80', ['Host', 'a'])],
    ['an absolute-form target with user info', h1('http://user@a.example/', ['Host', 'a'])],
    ['an absolute-form target without an authority', h1('http:///x', ['Host', 'a'])],
    ['a scheme the proxy does not serve', h1('ftp://a.example/', ['Host', 'a'])],
  ])('refuses %s', (_, req) => {
    expect(checkRequestTarget(req).ok).toBe(false);
  });

  it('refuses an HTTP/2 request whose :authority and Host differ, and takes one whose agree', () => {
    const h2 = (host: string) => ({
      url: '/',
      httpVersionMajor: 2,
      rawHeaders: [':authority', 'a.example', 'host', host],
      headers: { ':authority': 'a.example', host },
    });
    expect(checkRequestTarget(h2('b.example'))).toEqual({ ok: false, reason: ':authority and Host differ' });
    expect(checkRequestTarget(h2('A.example'))).toMatchObject({ ok: true, authority: 'A.example' });
  });

  it('refuses an HTTP/2 :path that is not origin-form', () => {
    const req = {
      url: 'http://evil.example/',
      httpVersionMajor: 2,
      rawHeaders: [':authority', 'a.example'],
      headers: { ':authority': 'a.example' },
    };
    expect(checkRequestTarget(req)).toEqual({ ok: false, reason: ':path is not origin-form' });
  });
});

describe('normalizeRequestTarget', () => {
  it('rewrites an absolute-form request into the origin-form and Host the next hop sees', () => {
    const req = h1('http://evil.example/x', ['Host', 'app.example.com', 'Accept', '*/*']);
    expect(normalizeRequestTarget(req)).toBeUndefined();
    expect(req.url).toBe('/x');
    expect(req.headers.host).toBe('evil.example');
    expect(req.rawHeaders).toEqual(['Host', 'evil.example', 'Accept', '*/*']);
  });
});
