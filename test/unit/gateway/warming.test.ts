import { describe, expect, it } from 'vitest';
import { backendKey, type Ingress } from '../../../gateway/routing/table.ts';
import { IngressWarming, unreadyBackend } from '../../../gateway/warming.ts';
import { routeIngress, serving } from '../../../harness/kingress.ts';

const version = (revision: string, uid = 'hello-uid'): Ingress => {
  const ingress = routeIngress({ name: 'hello', targets: { '': [{ revision, percent: 100 }] } });
  return { ...ingress, metadata: { ...ingress.metadata, uid } };
};
const revisionsOf = (ingresses: Ingress[]) =>
  ingresses.map((ingress) => ingress.spec?.rules?.[0]?.http?.paths[0]?.splits[0]?.serviceName);
const noEndpoints = (revision: string) =>
  new Map([[backendKey('default', revision, 80), { mode: 'serve', protocol: 'http1', endpoints: [] } as const]]);

describe('unreadyBackend', () => {
  it('names the first split backend without a Service or a ready address', () => {
    expect(unreadyBackend(version('hello-1'), serving(['hello-1']))).toBeUndefined();
    expect(unreadyBackend(version('hello-2'), serving(['hello-1']))).toBe(
      'backend default/hello-2:80 has no Service yet',
    );
    expect(unreadyBackend(version('hello-2'), noEndpoints('hello-2'))).toBe(
      'backend default/hello-2:80 has no ready endpoints yet',
    );
  });
});

describe('IngressWarming', () => {
  it('keeps serving the last servable version until the new backend has a ready address', () => {
    const warming = new IngressWarming();
    expect(revisionsOf(warming.effective([version('hello-1')], serving(['hello-1'])))).toEqual(['hello-1']);
    // Updated to hello-2, whose EndpointSlice has not arrived: hello-1 still answers.
    const cold = new Map([...serving(['hello-1']), ...noEndpoints('hello-2')]);
    expect(revisionsOf(warming.effective([version('hello-2')], cold))).toEqual(['hello-1']);
    expect(revisionsOf(warming.effective([version('hello-2')], cold))).toEqual(['hello-1']);
    // Warm: the new version takes over, and from then on it is the one kept.
    expect(revisionsOf(warming.effective([version('hello-2')], serving(['hello-1', 'hello-2'])))).toEqual(['hello-2']);
    expect(revisionsOf(warming.effective([version('hello-3')], serving(['hello-1', 'hello-2'])))).toEqual(['hello-2']);
  });

  it('serves a new Ingress, a recreated one, or one whose old backends are gone as it is', () => {
    const warming = new IngressWarming();
    expect(revisionsOf(warming.effective([version('hello-2')], new Map()))).toEqual(['hello-2']);
    warming.effective([version('hello-1')], serving(['hello-1']));
    expect(revisionsOf(warming.effective([version('hello-2', 'other-uid')], serving(['hello-1'])))).toEqual([
      'hello-2',
    ]);
    warming.effective([version('hello-1')], serving(['hello-1']));
    expect(revisionsOf(warming.effective([version('hello-2')], noEndpoints('hello-1')))).toEqual(['hello-2']);
  });

  it('forgets a deleted Ingress', () => {
    const warming = new IngressWarming();
    warming.effective([version('hello-1')], serving(['hello-1']));
    warming.effective([], serving(['hello-1']));
    expect(revisionsOf(warming.effective([version('hello-2')], serving(['hello-1'])))).toEqual(['hello-2']);
  });
});
