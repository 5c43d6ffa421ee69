import {
  type DimSharding,
  type Dims,
  type DType,
  debugPass,
  type Estimate,
  entry,
  estimate,
  type FusedProgram,
  formatTotals,
  fuseKernels,
  type LinearCosts,
  linearCosts,
  type Program,
  printFused,
  printProgram,
  retypeStorage,
  type StepCostsAt,
  type StorageRetype,
  type StoredRole,
  type StoredVariable,
  type Traced,
  type TraceResult,
  trace,
} from "@shardcost/core";
import { collectiveCost } from "./collective-cost.js";
import { lower } from "./lower.js";
import type { Mesh } from "./mesh.js";
import { groupSize, localSizes } from "./sizes.js";

/** Anything with a forward function, its inputs and dims: core's `model()`, a model step. */
export interface Traceable<I = unknown> {
  readonly fn: (inputs: Traced<I>) => TraceResult;
  readonly inputs: I;
  readonly dims: Dims;
}

/** Where `compile` runs the program. */
export interface CompileOptions {
  readonly mesh: Mesh;
  /** Dim sizes that replace the model's own (e.g. another batch), before tracing. */
  readonly dims?: Dims;
}

/** The four passes' names, as `SHARDCOST_DEBUG=passes` and `explain --pass` print them. */
export const PASSES = ["traced", "lowered", "fused", "estimate"] as const;

/** One of `PASSES`. */
export type PassName = (typeof PASSES)[number];

/**
 * A program through the pipeline: each pass's result, printable. The estimate is at the
 * program's own dims (computed on first use); `at` re-costs the same kernels at other sizes.
 */
export class Compiled {
  private cachedEstimate: Estimate | undefined;
  private readonly linear = new Map<string, LinearCosts | null>();
  // Retypings `costsAt` estimates directly, by their change as text.
  private readonly retypings = new Map<string, Compiled>();
  private cachedShardedDims: readonly (readonly [string, number])[] | undefined;
  private readonly source: TracedSource;
  /**
   * @param traced the program as traced, global shapes with their shardings — or how to trace
   *   it again: a program `compile` traced itself is not kept once lowered (tracing is
   *   deterministic), and is traced afresh only if asked for
   * @param lowered the SPMD program for `mesh`, collectives inserted
   * @param fused the lowered program without dead code, fused into kernels
   * @param mesh the mesh it was lowered for
   */
  constructor(
    traced: Program | TracedSource,
    readonly lowered: Program,
    readonly fused: FusedProgram,
    readonly mesh: Mesh,
  ) {
    this.source = "eqns" in traced ? { program: traced, retrace: () => traced } : traced;
  }

  /** The program as traced (traced again on first use when `compile` did not keep it). */
  get traced(): Program {
    this.source.program ??= this.source.retrace();
    return this.source.program;
  }

  /** The per-chip estimate at the program's own dims. */
  get estimate(): Estimate {
    if (!this.cachedEstimate) {
      this.cachedEstimate = this.at(this.lowered.dims);
      debugPass("estimate", () => formatTotals(this.cachedEstimate!));
    }
    return this.cachedEstimate;
  }

  /** The per-chip estimate with `dims` in place of the program's sizes (same structure). */
  at(dims: Dims): Estimate {
    return estimate(this.fused, this.mesh.chip, {
      sizes: localSizes({ dims: { ...this.lowered.dims, ...dims } }, this.mesh),
      collectives: collectiveCost(this.mesh),
    });
  }

  /**
   * Totals and memory (no per-kernel rows) with `dims` in place of the program's sizes and each
   * of `stored`'s roles in its `dtype`: from the kernels' costs as multilinear functions of the
   * dims that differ (and of those named `varying`, which later calls will change) and of the
   * stored widths (`linearCosts`, built once per such set, checked when built; a model built
   * for more dims serves too), else estimated directly. What a sweep asks thousands of times.
   */
  costsAt(
    dims: Dims,
    stored: readonly StoredAt[] = [],
    varying: readonly string[] = [],
  ): StepCostsAt {
    const base = this.fused.program.dims;
    const free: string[] = [];
    for (const d in dims) if (dims[d] !== base[d]) free.push(d);
    for (const d of varying) if (d in base && !free.includes(d)) free.push(d);
    free.sort();
    let roles = "";
    const dtypes: Partial<Record<StoredRole, DType>> = {};
    for (const s of stored) {
      roles += `${s.role}:${s.from}:${s.corner}:${s.check},`;
      dtypes[s.role] = s.dtype;
    }
    if (free.length > 0 || stored.length > 0) {
      const key = `${free.join(",")}|${roles}`;
      const known = this.linear.get(key);
      let model = known === undefined ? this.wider(free, roles) : known;
      // At the program's own sizes, a first query is estimated directly: the next, at other
      // sizes, builds the model with those dims free.
      if (model === undefined && free.length > 0) {
        const mesh = this.mesh;
        model =
          linearCosts(
            this.fused,
            mesh.chip,
            { collectives: collectiveCost(mesh), sizesOf: (d) => localSizes({ dims: d }, mesh) },
            free,
            stored,
          ) ?? null;
        this.linear.set(key, model);
      }
      if (model) return model.at(dims, dtypes);
    }
    const change: { -readonly [R in StoredRole]?: StorageRetype } = {};
    for (const s of stored) change[s.role] = { from: s.from, to: s.dtype };
    const text = JSON.stringify(change);
    const e = entry(this.retypings, text, () => this.retyped(change)).at(dims);
    return { totals: e.totals, memory: e.memory };
  }

  /** A model already built with (at least) the `free` dims free and the same stored roles. */
  private wider(free: readonly string[], roles: string): LinearCosts | undefined {
    for (const [key, model] of this.linear) {
      if (model && key.endsWith(`|${roles}`) && free.every((f) => model.free.includes(f))) {
        return model;
      }
    }
    return undefined;
  }

  /** Whether every sharded dim still divides by its devices at `dims` (so `at` is exact). */
  divides(dims: Dims): boolean {
    this.cachedShardedDims ??= shardedDimsOf(this.lowered, this.mesh);
    for (const [dim, devices] of this.cachedShardedDims) {
      const size = dims[dim] ?? this.lowered.dims[dim]!;
      if (size % devices !== 0) return false;
    }
    return true;
  }

  /** The same program with weights and/or caches stored in other dtypes, re-fused. */
  retyped(change: StorageChange): Compiled {
    const lowered = retypeStorage(this.lowered, change);
    if (lowered === this.lowered) return this;
    // Retyping keeps every equation and var in place, so the kernels and def-use facts stay.
    const { graph, fusion } = this.fused;
    const program = retypeStorage(this.fused.program, change);
    return new Compiled(this.source, lowered, { program, graph, fusion }, this.mesh);
  }

  /** One pass's result in the book's notation. */
  print(pass: PassName): string {
    switch (pass) {
      case "traced":
        return printProgram(this.traced);
      case "lowered":
        return printProgram(this.lowered);
      case "fused":
        return printFused(this.fused);
      case "estimate":
        return formatTotals(this.estimate);
    }
  }
}

/** The `StorageRetype` a `Compiled.retyped` takes for each stored role. */
export type StorageChange = Readonly<Partial<Record<StoredRole, StorageRetype>>>;

/**
 * A stored role's dtype at one query, as a variable of `Compiled.costsAt`'s model: the query's
 * `dtype`, the program's own (`from`), and the model's corner and check dtypes (see
 * `StoredVariable`).
 */
export interface StoredAt extends StoredVariable {
  readonly dtype: DType;
}

/**
 * The pipeline, the one every command, the sweep engine, the studies and the tests run:
 * trace (unless given a traced program) → lower for `mesh` → fuse into kernels → estimate per
 * chip. `SHARDCOST_DEBUG=passes` prints each pass's result to stderr.
 */
export function compile<I>(source: Traceable<I> | Program, options: CompileOptions): Compiled {
  if (isProgram(source)) {
    const lowered = lower(source, options.mesh);
    const fused = fuseKernels(lowered);
    debugPass("fuse", () => printFused(fused));
    return new Compiled(source, lowered, fused, options.mesh);
  }
  const dims = options.dims ? { ...source.dims, ...options.dims } : source.dims;
  const retrace = () => trace(source.fn, source.inputs, dims, { sourceLocations: "lazy" });
  let traced: Program | undefined = retrace();
  debugPass("trace", () => printProgram(traced!));
  const lowered = lower(traced, options.mesh);
  // Released once lowered: a million-equation program need not be held twice.
  traced = undefined;
  const fused = fuseKernels(lowered);
  debugPass("fuse", () => printFused(fused));
  return new Compiled({ program: undefined, retrace }, lowered, fused, options.mesh);
}

/** A traced program, kept or to be traced again, shared by a compile and its retypings. */
export interface TracedSource {
  program: Program | undefined;
  readonly retrace: () => Program;
}

function isProgram<I>(x: Traceable<I> | Program): x is Program {
  return "eqns" in x;
}

/** Each distinct (dim, devices) sharding in a program, to recheck divisibility at new sizes. */
function shardedDimsOf(program: Program, m: Mesh): [string, number][] {
  const seen = new Map<string, [string, number]>();
  // Dim shardings are interned: each object is keyed (as text) once.
  const visited = new Set<DimSharding>();
  const visit = (dims: readonly DimSharding[]) => {
    for (const d of dims) {
      if (d.axes.length === 0 || visited.has(d)) continue;
      visited.add(d);
      const key = `${d.dim}_${d.axes.join("")}`;
      if (!seen.has(key)) seen.set(key, [d.dim, groupSize(m, d.axes)]);
    }
  };
  for (const i of program.inputs) visit(i.var.aval.dims);
  for (const e of program.eqns) for (const o of e.outputs) visit(o.aval.dims);
  return [...seen.values()];
}
