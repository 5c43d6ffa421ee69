import { ShardcostError } from "@shardcost/core";
import type { DimAxes, LlamaConfig, LlamaLayout, Phase } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";

/** A mesh axis as a layout sees it: its name and how many devices it spans. */
export interface Axis {
  readonly name: string;
  readonly size: number;
}

/** The step a layout is resolved for: its phase, batch and sequence lengths. */
export interface StepShape {
  readonly phase?: Phase;
  readonly batch: number;
  /** Decode: the KV cache's length S. Prefill: the prompt length T. */
  readonly seq?: number;
  /** Prefill: the cache length S (default T). */
  readonly cacheLength?: number;
}

/**
 * A named layout resolved for one model, mesh, phase and batch: the per-role shardings the
 * model is traced with, and the choices behind them in words (printed by `explain`, listed as
 * `layout.resolved` in the JSON report).
 */
export type ResolvedLayout = LlamaLayout & {
  readonly name: string;
  readonly choices: readonly string[];
};

export const axesOfMesh = (m: Mesh): Axis[] => m.axes.map((a) => ({ name: a.name, size: a.size }));

export const product = (axes: readonly Axis[]): number => axes.reduce((n, a) => n * a.size, 1);

export const names = (axes: readonly Axis[]): string[] => axes.map((a) => a.name);

export const without = (axes: readonly Axis[], drop: readonly Axis[]): Axis[] =>
  axes.filter((a) => !drop.some((d) => d.name === a.name));

/**
 * The axes of `axes`, in order, that a dim of `size` can be split over: each is kept when the
 * product of those kept so far and it still divides `size`. Greedy and deterministic.
 */
export function fit(size: number, axes: readonly Axis[]): Axis[] {
  const kept: Axis[] = [];
  let k = 1;
  for (const a of axes) {
    if (size % (k * a.size) === 0) {
      kept.push(a);
      k *= a.size;
    }
  }
  return kept;
}

/** The longest prefix of `axes` whose product divides `size`. */
export function prefixDividing(size: number, axes: readonly Axis[]): Axis[] {
  const kept: Axis[] = [];
  let k = 1;
  for (const a of axes) {
    if (size % (k * a.size) !== 0) break;
    kept.push(a);
    k *= a.size;
  }
  return kept;
}

/** `{ N: ["X", "Y"] }` from dims and axes, leaving out dims with none. */
export function dimAxes(entries: Readonly<Record<string, readonly Axis[]>>): DimAxes {
  const out: Record<string, readonly string[]> = {};
  for (const [d, axes] of Object.entries(entries)) if (axes.length > 0) out[d] = names(axes);
  return out;
}

export const axisText = (axes: readonly Axis[]): string =>
  axes.length > 0 ? names(axes).join("") : "no axis";

/** The error a layout raises when a weight has no dim that any axis divides. */
export function noDimDivides(
  layout: string,
  c: LlamaConfig,
  m: readonly Axis[],
  role: string,
  dims: Readonly<Record<string, number>>,
): never {
  const text = Object.entries(dims)
    .map(([d, n]) => `${d}=${n}`)
    .join(", ");
  throw new ShardcostError(
    "sharding",
    `layout ${layout} cannot apply to ${c.name} on ${m.map((a) => `${a.name}=${a.size}`).join(" ")}: ` +
      `weight ${role} has no dim that any mesh axis divides (${text}); ` +
      "pick a mesh whose axis sizes divide the model's dims",
  );
}
