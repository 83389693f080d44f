/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Percentiles of `samples` (milliseconds); all zero for no samples. */
export function summarize(samples: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted.length === 0
      ? 0
      : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.length === 0 ? 0 : (sorted[sorted.length - 1] ?? 0)),
  };
}

/** Concatenates sample arrays from several workers. */
export function concatSamples(parts: Float64Array[]): Float64Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

/** Rounds to 2 decimals (figures are printed and stored as such). */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  // `|| 0` turns -0 (a tiny negative value rounded) into 0, which prints as "0", not "-0".
  return Math.round(value * factor) / factor || 0;
}

/** A wall clock with sub-millisecond resolution, comparable across worker threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A growable Float64Array for latency samples. */
export class SampleBuffer {
  private data: Float64Array<ArrayBuffer> = new Float64Array(4096);
  private size = 0;

  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  /** The samples so far, as a compact copy (transferable). */
  take(): Float64Array<ArrayBuffer> {
    const out = this.data.slice(0, this.size);
    this.size = 0;
    return out;
  }
}
