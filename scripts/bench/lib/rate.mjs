// Completed calls of fn per second with inFlight concurrent loops for `seconds` (shared by the benchmarks).
import { performance } from 'node:perf_hooks';

export async function rate(fn, inFlight, seconds) {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const loop = async () => {
    while (performance.now() < end) {
      await fn();
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  return n / ((performance.now() - t0) / 1000);
}
