import { describe, expect, it } from 'vitest';
import { FailureTracker } from './failures.ts';

describe('FailureTracker', () => {
  it('reports reaching the threshold within a window, then every further threshold', () => {
    let now = 0;
    const tracker = new FailureTracker({ threshold: 3, windowMs: 1000, now: () => now });
    expect([1, 2, 3, 4, 5, 6].map(() => tracker.fail('bob'))).toEqual([null, null, 3, null, null, 6]);
    now = 1000;
    expect(tracker.fail('bob')).toBeNull();
    tracker.fail('bob');
    tracker.succeed('bob');
    expect(tracker.fail('bob')).toBeNull();
  });

  it('stays bounded', () => {
    const tracker = new FailureTracker({ threshold: 2, maxNames: 2 });
    tracker.fail('a');
    tracker.fail('b');
    tracker.fail('c'); // evicts "a"
    expect(tracker.fail('a')).toBeNull();
    expect(tracker.fail('c')).toBe(2);
  });
});
