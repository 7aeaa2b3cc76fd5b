import { describe, expect, it } from 'vitest';
import { createKeyedLimit } from '../router/createKeyedLimit.js';

describe('createKeyedLimit', () => {
  it('gives at most `limit` places per key, and each back once', () => {
    const limit = createKeyedLimit(2);
    const first = limit.take('alice');
    const second = limit.take('alice');
    expect(first).toBeTypeOf('function');
    expect(second).toBeTypeOf('function');
    expect(limit.take('alice')).toBeUndefined();
    expect(limit.take('bob')).toBeTypeOf('function');

    first?.();
    first?.();
    const third = limit.take('alice');
    expect(third).toBeTypeOf('function');
    expect(limit.take('alice')).toBeUndefined();
    second?.();
    third?.();
    expect(limit.take('alice')).toBeTypeOf('function');
    expect(limit.take('alice')).toBeTypeOf('function');
  });
});
