import { describe, expect, it } from 'vitest';
import {
  ANNOUNCE_KEY_BYTES,
  ANNOUNCE_KEY_SECRET,
  announceKeyOf,
  announceToken,
  announceTokenMatches,
  newAnnounceKeySecret,
} from '../../../lib/announce.ts';

const key = Buffer.alloc(ANNOUNCE_KEY_BYTES, 7);

describe('announce tokens', () => {
  it('are the hex HMAC-SHA256 of namespace/revision under the key', () => {
    // printf 'ns/hello-00001' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0707…07 (32 bytes)
    expect(announceToken(key, 'ns', 'hello-00001')).toBe(
      '938e462834f2a5208c141fbe335a2de2da9fce6141c69d6b9c2b967571d7b0a1',
    );
  });

  it("match only the revision's own token under the same key", () => {
    const token = announceToken(key, 'ns', 'hello-00001');
    expect(announceTokenMatches(key, 'ns', 'hello-00001', token)).toBe(true);
    expect(announceTokenMatches(key, 'ns', 'hello-00002', token)).toBe(false);
    expect(announceTokenMatches(key, 'other', 'hello-00001', token)).toBe(false);
    // The separator keeps "a/b-c" apart from "a-b/c".
    expect(announceToken(key, 'a', 'b-c')).not.toBe(announceToken(key, 'a-b', 'c'));
    expect(announceTokenMatches(Buffer.alloc(ANNOUNCE_KEY_BYTES, 8), 'ns', 'hello-00001', token)).toBe(false);
    expect(announceTokenMatches(key, 'ns', 'hello-00001', token.slice(1))).toBe(false);
    expect(announceTokenMatches(key, 'ns', 'hello-00001', `${token}0`)).toBe(false);
    expect(announceTokenMatches(key, 'ns', 'hello-00001', '')).toBe(false);
  });
});

describe('the announce key Secret', () => {
  it('is made with a fresh random key of 32 bytes, which reads back', () => {
    const a = newAnnounceKeySecret('knative-serving');
    const b = newAnnounceKeySecret('knative-serving');
    expect(a.metadata).toEqual({ name: ANNOUNCE_KEY_SECRET, namespace: 'knative-serving' });
    expect(announceKeyOf(a)).toHaveLength(ANNOUNCE_KEY_BYTES);
    expect(announceKeyOf(a).equals(announceKeyOf(b))).toBe(false);
  });

  it('names the field and the rule when it holds no usable key', () => {
    const secret = { metadata: { namespace: 'ns', name: ANNOUNCE_KEY_SECRET }, data: { key: 'c2hvcnQ=' } };
    expect(() => announceKeyOf(secret)).toThrow(
      `Secret ns/${ANNOUNCE_KEY_SECRET}: data.key must hold at least 32 bytes`,
    );
    expect(() => announceKeyOf({ ...secret, data: {} })).toThrow('data.key must hold at least 32 bytes');
  });
});
