import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_HASH_LABEL, deploymentHash, withHash } from '../../../controllers/revision/deploymentHash.ts';

const deployment = (replicas: number, image: string) => ({
  metadata: { name: 'r-deployment', labels: { app: 'r' } },
  spec: { replicas, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image }] } } },
});

describe('deploymentHash', () => {
  it('ignores replicas, which the autoscaler owns', () => {
    expect(deploymentHash(deployment(1, 'i:1'))).toBe(deploymentHash(deployment(5, 'i:1')));
  });

  it('changes with the pod template', () => {
    expect(deploymentHash(deployment(1, 'i:1'))).not.toBe(deploymentHash(deployment(1, 'i:2')));
  });

  it('is written as a label without touching the pod template labels, even when both share one object', () => {
    const labels = { app: 'r' };
    const d = {
      metadata: { name: 'r-deployment', labels },
      spec: { selector: {}, template: { metadata: { labels }, spec: { containers: [] } } },
    };
    const hashed = withHash(d);
    expect(hashed.metadata?.labels?.[DEPLOYMENT_HASH_LABEL]).toBe(deploymentHash(d));
    expect(hashed.spec?.template.metadata?.labels).toEqual({ app: 'r' });
  });
});
