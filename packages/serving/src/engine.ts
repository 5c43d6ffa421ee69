import { type Dims, type DType, entry, type Program } from "@shardcost/core";
import { type LlamaConfig, llamaStep } from "@shardcost/ops";
import { type Compiled, compile, type Mesh, type StoredAt } from "@shardcost/sharding";
import { type LayoutName, type ResolvedLayout, resolveLayout } from "./layouts/index.js";
import { extrapolateLayers, type StepCosts } from "./periodic.js";
import { type StepQuery, traceStep } from "./step.js";
/**
 * Estimates LLaMA steps many times over, as a sweep does, reusing work between them:
 * - layers are periodic: two- and three-layer models are traced, lowered and costed, and the
 *   full depth extrapolated (`extrapolateLayers`);
 * - sizes are not structure: the batch and sequence length only change dim sizes, so a lowered
 *   program is re-costed at new sizes (its kernels, def-use facts and fusion are cached by the
 *   core estimator) after rechecking that every sharded dim still divides by its devices;
 * - nor are stored dtypes within a class: quantized weights (cast before their matmuls) and a
 *   KV cache cast to and from the activations trace alike whatever their width, so one program
 *   per class is traced and its costs modelled in the stored widths as in the sizes
 *   (`Compiled.costsAt`).
 * A query the cache cannot serve exactly (a MoE model, whose dispatch shape the batch fixes)
 * is traced afresh. Results equal a full trace's (see the engine tests).
 */
export class StepEstimator {
  // Lowered steps by model and mesh (as objects), then by the layout's roles and the rest of
  // the query as text.
  private readonly lowered = new WeakMap<
    LlamaConfig,
    WeakMap<Mesh, Map<string, Map<string, readonly Compiled[]>>>
  >();
  // Resolved layouts, the same way: a sweep asks for the same few many times.
  private readonly layouts = new WeakMap<
    LlamaConfig,
    WeakMap<Mesh, Map<string, { resolved: ResolvedLayout; roles: string }>>
  >();
  // A layout given already resolved (the layout search's candidates): its roles as text.
  private readonly given = new WeakMap<ResolvedLayout, string>();
  // Traced programs by model, then by structure, depth and the query traced (mesh-free).
  private readonly traces = new WeakMap<LlamaConfig, Map<string, Program>>();
  /** How many programs were traced, and how many queries were served. */
  readonly stats = { traced: 0, queries: 0 };
  // Dims re-costed as variables from a structure's first query on (see the constructor).
  private readonly varying: readonly string[];

  /**
   * @param options.manyBatches queries will ask for many batch sizes of each structure (a
   *   sweep): its first query already builds the re-costing model in the batch, rather than
   *   estimating once directly and building the model at the second batch
   */
  constructor(options: { readonly manyBatches?: boolean } = {}) {
    this.varying = options.manyBatches ? ["B"] : [];
  }

  step(
    config: LlamaConfig,
    query: StepQuery,
    layout: LayoutName | ResolvedLayout,
    m: Mesh,
  ): StepCosts {
    this.stats.queries++;
    return this.costs(config, query, layout, m, true);
  }

  private layoutFor(
    layout: LayoutName | ResolvedLayout,
    config: LlamaConfig,
    m: Mesh,
    query: StepQuery,
  ) {
    if (typeof layout !== "string") {
      let roles = this.given.get(layout);
      if (roles === undefined) {
        roles = JSON.stringify({ ...layout, choices: undefined, name: undefined });
        this.given.set(layout, roles);
      }
      return { resolved: layout, roles };
    }
    const layouts = byModelAndMesh(this.layouts, config, m);
    const key = `${layout}|${query.phase}|${query.batch}|${query.seq}|${query.cacheLength}`;
    let found = layouts.get(key);
    if (!found) {
      const resolved = resolveLayout(layout, config, m, query);
      found = { resolved, roles: JSON.stringify({ ...resolved, choices: undefined }) };
      layouts.set(key, found);
    }
    return found;
  }

  // Each choice of weight, KV and compute dtypes: the structure traced for it and its stored
  // dtypes as variables, worked out once.
  private readonly choices = new Map<string, { rep: Representative; stored: StoredAt[] }>();

  private storedFor(q: StepQuery): { rep: Representative; stored: StoredAt[] } {
    return entry(this.choices, `${q.weights}|${q.kv}|${q.compute}`, () => {
      const rep = representative(q);
      return { rep, stored: storedAt(q, rep) };
    });
  }

  // A step's dims by model, then by what sizes them (phase, batch, lengths, MoE groups).
  private readonly dims = new WeakMap<LlamaConfig, Map<string, Dims>>();

  private dimsOf(config: LlamaConfig, q: StepQuery): Dims {
    const byQuery = byModel(this.dims, config);
    const key = `${q.phase}|${q.batch}|${q.seq}|${q.cacheLength}|${q.groups}|${q.capacity}`;
    return entry(byQuery, key, () => llamaStep({ ...config, layers: 0 }, q.phase, q).dims);
  }

  private costs(
    config: LlamaConfig,
    query: StepQuery,
    layout: LayoutName | ResolvedLayout,
    m: Mesh,
    reuse: boolean,
  ): StepCosts {
    const { resolved, roles } = this.layoutFor(layout, config, m, query);
    const shapeFree = config.moe === undefined;
    // Weight and KV dtypes that only change what is stored share one traced structure.
    const { rep, stored } = this.storedFor(query);
    // The roles (long text, one string per resolved layout) key a map of their own: the rest
    // is short.
    const shape = shapeFree
      ? ""
      : `${query.batch}|${query.seq}|${query.cacheLength}|${query.groups}|${query.capacity}`;
    const rest = `${query.phase}|${rep.weights}|${rep.kv}|${query.compute}|${query.attention}|${shape}`;
    const byRoles = byModelAndMesh(this.lowered, config, m);
    const cache = entry(byRoles, roles, () => new Map<string, readonly Compiled[]>());
    let pair = reuse ? cache.get(rest) : undefined;
    const cached = pair !== undefined;
    if (!pair) {
      // A traced program does not depend on the mesh: meshes whose layouts resolve alike
      // share it, and each lowers it for itself.
      const traces = byModel(this.traces, config);
      const traced = { ...query, ...rep };
      const key = `${rest}|${roles}`;
      const compileWith = (layers: number): Compiled => {
        const traceKey = `${key}|${layers}|${JSON.stringify(traced)}`;
        let program = traces.get(traceKey);
        if (program === undefined) {
          this.stats.traced++;
          program = traceStep({ ...config, layers }, traced, resolved);
          traces.set(traceKey, program);
        }
        return compile(program, { mesh: m });
      };
      // Three layers or fewer: the model itself.
      pair = config.layers <= 3 ? [compileWith(config.layers)] : [compileWith(2), compileWith(3)];
      cache.set(rest, pair);
    }
    // A step's dims do not depend on its dtypes.
    const dims = this.dimsOf(config, query);
    const estimates = pair.map((c) =>
      c.divides(dims) ? c.costsAt(dims, stored, this.varying) : undefined,
    );
    const [first, second] = estimates;
    if (first && estimates.length === 1) return { totals: first.totals, memory: first.memory };
    if (first && second) return extrapolateLayers(first, second, config.layers);
    if (!cached) {
      throw new Error("a freshly lowered step has an indivisible sharded dim");
    }
    // A size the cached sharding does not divide: trace afresh, which reports why.
    return this.costs(config, query, layout, m, false);
  }
}

function byModel<V>(table: WeakMap<LlamaConfig, Map<string, V>>, config: LlamaConfig) {
  return entry(table, config, () => new Map<string, V>());
}

function byModelAndMesh<V>(
  table: WeakMap<LlamaConfig, WeakMap<Mesh, Map<string, V>>>,
  config: LlamaConfig,
  m: Mesh,
): Map<string, V> {
  const byMesh = entry(table, config, () => new WeakMap<Mesh, Map<string, V>>());
  return entry(byMesh, m, () => new Map<string, V>());
}

/**
 * The stored dtypes a query varies within its structure, as variables of the re-costing: the
 * weights when they are quantized (cast before their matmuls) and the KV cache when it is cast.
 * Each is modelled between the traced dtype and one of another width and class (int4, or fp8
 * when int4 is the traced one) and checked at a wider float.
 */
function storedAt(q: StepQuery, rep: { weights: DType; kv: DType }): StoredAt[] {
  const act = activationDtype(q);
  const check: DType = act === "f16" ? "f32" : "f16";
  const corner = (from: DType): DType => (from === "int4" ? "fp8e4m3" : "int4");
  const out: StoredAt[] = [];
  const weights = q.weights ?? "bf16";
  if (QUANTIZED.includes(weights) && !(q.compute === "int8" && weights === "int8")) {
    out.push({
      role: "param",
      dtype: weights,
      from: rep.weights,
      corner: corner(rep.weights),
      check,
    });
  }
  const kv = q.kv ?? "bf16";
  if (kv !== act) {
    out.push({ role: "cache", dtype: kv, from: rep.kv, corner: corner(rep.kv), check });
  }
  return out;
}

/** The dtype activations are computed in (int8 compute keeps bf16 activations). */
function activationDtype(q: StepQuery): DType {
  return q.compute === "int8" ? "bf16" : (q.compute ?? "bf16");
}

/** Weight and KV dtypes narrower than the compute dtype are cast alike: they trace alike. */
const QUANTIZED: readonly DType[] = ["int8", "int4", "fp8e4m3", "fp8e5m2"];

/**
 * The dtypes a query is traced with: the same program structure as the query's own, from
 * which `retypeStorage` gives the query's. Quantized weights are cast to the compute dtype before
 * their matmuls whatever their width (with int8 compute, int8 weights are not cast: their own
 * class); a KV cache in any dtype but the activations' is cast on its way in and out.
 */
/** The weight and KV dtypes a structure is traced in for a query's dtypes. */
interface Representative {
  readonly weights: DType;
  readonly kv: DType;
}

function representative(q: StepQuery): Representative {
  const act = activationDtype(q);
  const weights = q.weights ?? "bf16";
  const kv = q.kv ?? "bf16";
  const int8Compute = q.compute === "int8";
  const w =
    !QUANTIZED.includes(weights) || (int8Compute && weights === "int8")
      ? weights
      : int8Compute
        ? "int4"
        : "int8";
  return { weights: w, kv: kv === act ? kv : "int8" };
}
