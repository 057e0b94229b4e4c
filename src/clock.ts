/**
 * Time comes from an injectable clock so tests can move it (validity dates, reply windows, queue waits).
 * @example const clock = fixedClock(new Date('2026-12-01T10:00:00Z')); clock.set(...)
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock for tests: starts at `start` and only moves when told. */
export function fixedClock(start: Date | string) {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (d: Date | string) => void (t = new Date(d).getTime()),
    advance: (ms: number) => void (t += ms),
  };
}
