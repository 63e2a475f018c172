import { describe, expect, it } from 'vitest';
import { formatBytes } from './format';

describe('formatBytes', () => {
  it('uses binary units the way GPU limits are stated', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(128 * 1024 * 1024)).toBe('128 MiB');
    expect(formatBytes(26_861_777)).toBe('25.6 MiB');
    expect(formatBytes(2 ** 32)).toBe('4.0 GiB');
  });
});
