import { aval } from "./aval.js";
import { type DType, isDType } from "./dtype.js";
import { NotationError, OpError, ShardcostError } from "./errors.js";
import type {
  Atom,
  Aval,
  Eqn,
  EqnOf,
  InputRole,
  Literal,
  Program,
  ProgramInput,
  ProgramOutput,
  Var,
} from "./ir.js";
import {
  checkSharding,
  type DimSharding,
  parseSharding,
  printSharding,
  type Sharding,
} from "./notation.js";
import { OpMemo } from "./op-memo.js";
import type { ParamsOf, Primitive } from "./primitives.js";
import { printAtom, printType } from "./printer.js";
import { RuleError } from "./rule-error.js";
import { shapeRules } from "./shape-rules.js";
import { callerLocation, captureSource, StackCapture } from "./source.js";

/** A declared input: its notation, dtype and role (weights, cache or activation). */
export interface TensorSpec {
  readonly kind: "tensor-spec";
  readonly text: string;
  readonly sharding: Sharding;
  readonly dtype: DType;
  readonly role: InputRole;
  /** Where it was declared, when `recordDeclarationSites(true)`. */
  readonly site?: StackCapture;
}

let recordSites = false;

/**
 * Whether `tensor()` records where it was called, so that errors about an input (an unknown
 * dim, an axis the mesh lacks) name the line that declared it. Off by default (a model with
 * a thousand weights would pay a stack capture each); the CLI turns it on for model files.
 */
export function recordDeclarationSites(on: boolean): void {
  recordSites = on;
}

/**
 * Declares an input tensor in notation, `tensor("Win[D_X, F_YZ]", "int8")`, or from a sharding
 * built as data (`{ name: "Win", dims: [{ dim: "D", axes: ["X"] }, …], partial: [] }`).
 */
export function tensor(
  spec: string | Sharding,
  dtype: DType = "bf16",
  role: InputRole = "activation",
) {
  const text = typeof spec === "string" ? spec : printSharding(spec);
  if (!isDType(dtype)) {
    throw new ShardcostError(
      "dtype",
      `unknown dtype "${String(dtype)}" for tensor ${text}`,
      callerLocation(),
    );
  }
  let sharding: Sharding;
  try {
    sharding = typeof spec === "string" ? parseSharding(spec) : checkSharding(spec);
  } catch (e) {
    if (e instanceof NotationError && e.source === undefined) {
      throw new NotationError(e.text, e.reason, e.code, callerLocation());
    }
    throw e;
  }
  const declared: { -readonly [K in keyof TensorSpec]: TensorSpec[K] } = {
    kind: "tensor-spec",
    text,
    sharding,
    dtype,
    role,
  };
  if (recordSites) declared.site = new StackCapture();
  return declared as TensorSpec;
}

/** A weight: counted once in memory, resident across steps. */
export const param = (spec: string | Sharding, dtype: DType = "bf16") =>
  tensor(spec, dtype, "param");
/** A cache (KV): resident across steps, updated in place. */
export const cache = (spec: string | Sharding, dtype: DType = "bf16") =>
  tensor(spec, dtype, "cache");

/** A value inside a traced function. Ops take and return these. */
export class Tracer {
  /** @internal */
  readonly builder: ProgramBuilder;
  readonly var: Var;
  constructor(builder: ProgramBuilder, v: Var) {
    this.builder = builder;
    this.var = v;
  }
  get aval(): Aval {
    return this.var.aval;
  }
  get dtype(): DType {
    return this.var.aval.dtype;
  }
  /** Dim names in order. */
  get dims(): readonly string[] {
    return dimNames(this.var.aval.dims);
  }
  /** Global size of a dim of this tensor. */
  size(dim: string): number {
    const n = this.builder.dims[dim];
    if (n === undefined || !this.dims.includes(dim)) {
      throw new ShardcostError("unknown-dim", `${this} has no dim ${dim}`);
    }
    return n;
  }
  toString(): string {
    return `${this.var.name}:${printType(this.var.aval)}`;
  }
}

const namesOf = new WeakMap<readonly DimSharding[], readonly string[]>();

/** The names of a dims list, computed once per (interned, shared) list. */
function dimNames(dims: readonly DimSharding[]): readonly string[] {
  let names = namesOf.get(dims);
  if (names === undefined) {
    names = dims.map((d) => d.dim);
    namesOf.set(dims, names);
  }
  return names;
}

/**
 * What a forward function receives for declared inputs of type `T`: every `tensor()` spec as a
 * `Tracer`, at any depth.
 */
export type Traced<T> = T extends TensorSpec ? Tracer : { [K in keyof T]: Traced<T[K]> };

/** What a traced function may return: a tensor, or arrays/objects of them. */
export type TraceResult = Tracer | readonly TraceResult[] | { readonly [k: string]: TraceResult };

/** Dim sizes by name: `{ B: 32, D: 8192 }`. */
export type Dims = Readonly<Record<string, number>>;

function isSpec(x: unknown): x is TensorSpec {
  return typeof x === "object" && x !== null && (x as TensorSpec).kind === "tensor-spec";
}

const letterNames: string[] = [];

function letterName(n: number): string {
  for (let i = letterNames.length; i <= n; i++) {
    let s = "";
    let k = i;
    do {
      s = String.fromCharCode(97 + (k % 26)) + s;
      k = Math.floor(k / 26) - 1;
    } while (k >= 0);
    letterNames.push(s);
  }
  return letterNames[n]!;
}

/** Accumulates equations while a function runs on Tracers. */
export class ProgramBuilder {
  readonly dims: Record<string, number>;
  private readonly eqns: Eqn[] = [];
  private readonly inputs: ProgramInput[] = [];
  private readonly taken = new Set<string>();
  private nextId = 0;
  private nextLetter = 0;

  /** Whether equations record the user's source line (a stack capture per user-level op). */
  readonly sources: boolean;
  /** What shape rules see: the dims dictionary, which ops may extend as they go. */
  private readonly shapeContext: { readonly dims: Dims };

  constructor(dims: Dims, sources = true) {
    this.sources = sources;
    this.dims = { ...dims };
    this.shapeContext = { dims: this.dims };
    for (const [name, size] of Object.entries(dims)) checkDimSize(name, size);
  }

  /** Input names that look like generated ones (a, b, …, aa): the only ones to skip. */
  private readonly takenLetters = new Set<string>();

  /** jaxpr-style names a, b, …, z, aa, ab, … skipping input names. */
  private freshName(): string {
    let name = letterName(this.nextLetter++);
    while (this.takenLetters.size > 0 && this.takenLetters.has(name)) {
      name = letterName(this.nextLetter++);
    }
    return name;
  }

  private newVar(aval: Aval, name?: string): Var {
    return { kind: "var", id: this.nextId++, name: name ?? this.freshName(), aval };
  }

  addInput(spec: TensorSpec, path: string): Tracer {
    for (const d of spec.sharding.dims) {
      if (this.dims[d.dim] === undefined) {
        throw new NotationError(
          spec.text,
          `input ${path}: dim ${d.dim} has no size; add it to the dims dictionary ` +
            `(known: ${Object.keys(this.dims).join(", ") || "none"})`,
          "unknown-dim",
          spec.site?.location,
        );
      }
    }
    let name = spec.sharding.name ?? path;
    if (this.taken.has(name)) name = path;
    for (let k = 2; this.taken.has(name); k++) name = `${path}#${k}`;
    this.taken.add(name);
    if (/^[a-z]+$/.test(name)) this.takenLetters.add(name);
    const v = this.newVar(aval(spec.dtype, spec.sharding.dims, spec.sharding.partial), name);
    this.inputs.push(
      spec.site
        ? { var: v, role: spec.role, path, site: spec.site }
        : { var: v, role: spec.role, path },
    );
    return new Tracer(this, v);
  }

  declareDims(op: string, sizes: Dims, source: StackCapture | undefined): void {
    // for…in, not Object.entries: no pair arrays for the few dims an op declares.
    for (const name in sizes) {
      if (!Object.hasOwn(sizes, name)) continue;
      const size = sizes[name]!;
      const have = this.dims[name];
      if (have === undefined) {
        checkDimSize(name, size);
        this.dims[name] = size;
      } else if (have !== size) {
        throw new OpError(
          "dim-size",
          op,
          `dim ${name} is ${have} in the dims dictionary but this op makes it ${size}`,
          (source ?? new StackCapture()).location,
        );
      }
    }
  }

  /** Result types already worked out, by op and operand types. */
  private readonly shapes = new OpMemo<readonly Aval[]>();

  /** Operands, one array per arity, reused: each equation keeps a packed copy. */
  private readonly atomScratch: Atom[][] = [];

  /** Operand types for shape rules: one array per arity, reused (rules do not keep it). */
  private readonly operandScratch: (Aval | null)[][] = [];

  /** Records an equation and returns its result vars (`bind`, `bind1` wrap them as tracers). */
  private record<P extends Primitive>(
    primitive: P,
    operands: readonly (Tracer | number)[],
    params: ParamsOf<P>,
    source: StackCapture | undefined,
  ): readonly Var[] {
    const n = operands.length;
    let atoms = this.atomScratch[n];
    if (atoms === undefined) {
      atoms = new Array<Atom>(n);
      this.atomScratch[n] = atoms;
    }
    let operandAvals = this.operandScratch[n];
    if (operandAvals === undefined) {
      operandAvals = new Array<Aval | null>(n).fill(null);
      this.operandScratch[n] = operandAvals;
    }
    for (let i = 0; i < n; i++) {
      const o = operands[i]!;
      if (typeof o === "number") {
        atoms[i] = literal(o);
        operandAvals[i] = null;
      } else {
        atoms[i] = o.var;
        operandAvals[i] = o.var.aval;
      }
    }
    let avals: readonly Aval[];
    try {
      // Shape rules are pure: a repeated op (same primitive, params, operand types) is checked
      // once per trace. Dims only gain entries while tracing, so a check that passed holds.
      const slot = this.shapes.at(primitive, params, operandAvals, NO_EXTRA);
      const known = slot?.value;
      if (known !== undefined) {
        avals = known;
      } else {
        const rule = shapeRules[primitive] as (
          i: readonly (Aval | null)[],
          p: ParamsOf<P>,
          c: { dims: Dims },
        ) => Aval[];
        avals = rule(operandAvals, params, this.shapeContext);
        if (slot) slot.value = avals;
      }
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      const operandText = atoms.slice(0, n).map(printAtom).join(", ");
      throw new OpError(
        e.code,
        primitive,
        `${e.message}\n  operands: ${operandText}`,
        (source ?? new StackCapture()).location,
      );
    } finally {
      operandAvals.fill(null);
    }
    const inputs = packed(atoms, n);
    const outputs =
      avals.length === 1 ? [this.newVar(avals[0]!)] : avals.map((a) => this.newVar(a));
    const eqn = (
      source
        ? { primitive, params, inputs, outputs, source }
        : { primitive, params, inputs, outputs }
    ) as EqnOf<P>;
    // EqnOf<P> for a generic P is one member of the Eqn union, which TS cannot see here.
    this.eqns.push(eqn as unknown as Eqn);
    return outputs;
  }

  bind<P extends Primitive>(
    primitive: P,
    operands: readonly (Tracer | number)[],
    params: ParamsOf<P>,
    source: StackCapture | undefined,
  ): Tracer[] {
    return this.record(primitive, operands, params, source).map((v) => new Tracer(this, v));
  }

  /** `bind` for an op of one result. */
  bind1<P extends Primitive>(
    primitive: P,
    operands: readonly (Tracer | number)[],
    params: ParamsOf<P>,
    source: StackCapture | undefined,
  ): Tracer {
    return new Tracer(this, this.record(primitive, operands, params, source)[0]!);
  }

  finish(outputs: ProgramOutput[], retrace?: () => Program): Program {
    const program: Program = {
      dims: Object.freeze({ ...this.dims }),
      // Handed over, not copied or frozen (readonly by type; V8 iterates frozen arrays slowly).
      inputs: this.inputs,
      eqns: this.eqns,
      outputs,
    };
    return Object.freeze(retrace ? { ...program, retrace } : program);
  }
}

function checkDimSize(name: string, size: number): void {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
    throw new ShardcostError("dim-size", `"${name}" is not a dim name (letters and digits)`);
  }
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ShardcostError(
      "dim-size",
      `dim ${name} has size ${size}; sizes are positive integers`,
    );
  }
}

/**
 * Binds a primitive to operands inside a trace and returns its results. This is how every op in
 * the library reaches the IR; the user's source line is captured here.
 */
export function bind<P extends Primitive>(
  primitive: P,
  operands: readonly (Tracer | number)[],
  params: ParamsOf<P>,
  newDims?: Dims,
): Tracer[] {
  const builder = builderOf(primitive, operands);
  const source = builder.sources ? captureSource() : undefined;
  if (newDims) builder.declareDims(primitive, newDims, source);
  return builder.bind(primitive, operands, params, source);
}

/** The single result of `bind`. */
export function bind1<P extends Primitive>(
  primitive: P,
  operands: readonly (Tracer | number)[],
  params: ParamsOf<P>,
  newDims?: Dims,
): Tracer {
  const builder = builderOf(primitive, operands);
  const source = builder.sources ? captureSource() : undefined;
  if (newDims) builder.declareDims(primitive, newDims, source);
  return builder.bind1(primitive, operands, params, source);
}

/** The trace the operands belong to; a typed error for operands that are not traced values. */
function builderOf(primitive: Primitive, operands: readonly (Tracer | number)[]): ProgramBuilder {
  let builder: ProgramBuilder | undefined;
  for (let i = 0; i < operands.length; i++) {
    const o = operands[i];
    if (o instanceof Tracer) {
      if (builder && o.builder !== builder) {
        throw new OpError("input", primitive, "operands come from different traces", here());
      }
      builder = o.builder;
    } else if (typeof o !== "number" || !Number.isFinite(o)) {
      throw new OpError(
        "input",
        primitive,
        `operand ${describe(o)} is neither a traced tensor nor a finite number`,
        here(),
      );
    }
  }
  if (!builder) {
    throw new OpError("input", primitive, "needs at least one traced tensor operand", here());
  }
  return builder;
}

const NO_EXTRA: readonly unknown[] = [];

/**
 * The first `n` items of `xs` as a new array written out item by item for the usual arities:
 * what an equation keeps, allocated where the engine can tell it lives long.
 */
export function packed<T>(xs: readonly T[], n: number): T[] {
  switch (n) {
    case 1:
      return [xs[0]!];
    case 2:
      return [xs[0]!, xs[1]!];
    case 3:
      return [xs[0]!, xs[1]!, xs[2]!];
    default:
      return xs.slice(0, n);
  }
}

const literals = new Map<number, Literal>();

/** One shared operand object per literal value. */
function literal(value: number): Literal {
  // −0 would share +0's entry (maps compare by SameValueZero): kept apart.
  if (Object.is(value, -0)) return { kind: "literal", value };
  let l = literals.get(value);
  if (l === undefined) {
    l = Object.freeze({ kind: "literal", value });
    if (literals.size < 4096) literals.set(value, l);
  }
  return l;
}

const here = callerLocation;

function describe(x: unknown): string {
  if (x === undefined) return "undefined";
  if (x === null) return "null";
  if (typeof x === "number") return String(x);
  return typeof x;
}

function buildInputs(builder: ProgramBuilder, tree: unknown, path: string): unknown {
  if (isSpec(tree)) return builder.addInput(tree, path || "x");
  if (Array.isArray(tree))
    return tree.map((t, i) => buildInputs(builder, t, join(path, String(i))));
  if (typeof tree === "object" && tree !== null) {
    // Own enumerable keys in Object.entries' order, without its pair arrays.
    const out: Record<string, unknown> = {};
    for (const k in tree) {
      if (!Object.hasOwn(tree, k)) continue;
      const v = buildInputs(builder, (tree as Record<string, unknown>)[k], join(path, k));
      if (k === "__proto__") {
        Object.defineProperty(out, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[k] = v;
    }
    return out;
  }
  throw new ShardcostError(
    "input",
    `input ${path || "(root)"} is ${describe(tree)}; declare inputs with tensor("Name[D, F]", dtype)`,
  );
}

function collectOutputs(tree: unknown, path: string, out: ProgramOutput[]): void {
  if (tree instanceof Tracer) {
    out.push({ var: tree.var, path: path || "out" });
  } else if (Array.isArray(tree)) {
    tree.forEach((t, i) => {
      collectOutputs(t, join(path, String(i)), out);
    });
  } else if (typeof tree === "object" && tree !== null) {
    for (const [k, v] of Object.entries(tree)) collectOutputs(v, join(path, k), out);
  } else {
    throw new ShardcostError(
      "input",
      `the traced function returned ${describe(tree)} at ${path || "(root)"}; return tensors`,
    );
  }
}

const join = (a: string, b: string) => (a ? `${a}.${b}` : b);

/**
 * Runs `fn` on Tracers standing for `inputs` and records every op it applies: the Program.
 * `dims` gives every dim's global size.
 */
export interface TraceOptions {
  /**
   * Where each equation's source line comes from:
   * - "lazy" (default): not captured while tracing; the first time a report asks for a line,
   *   the function is traced once more with capture on (`sourceOf`). Tracing stays cheap, and
   *   errors always carry the line;
   * - true: captured while tracing (one stack capture per user-level op);
   * - false: never recorded.
   */
  readonly sourceLocations?: boolean | "lazy";
}

/**
 * Runs `fn` on tracers for `inputs` and records the program it builds: a flat list of typed
 * equations with global shapes and shardings (like `jax.make_jaxpr`). Checks every op's shapes,
 * dims and shardings as it goes.
 */
export function trace<I>(
  fn: (inputs: Traced<I>) => TraceResult,
  inputs: I,
  dims: Dims,
  options: TraceOptions = {},
): Program {
  const mode = options.sourceLocations ?? "lazy";
  const builder = new ProgramBuilder(dims, mode === true);
  const traced = buildInputs(builder, inputs, "") as Traced<I>;
  const result = fn(traced);
  const outputs: ProgramOutput[] = [];
  collectOutputs(result, "", outputs);
  if (outputs.length === 0) {
    throw new ShardcostError("input", "the traced function returned no tensors");
  }
  const retrace =
    mode === "lazy" ? () => trace(fn, inputs, dims, { sourceLocations: true }) : undefined;
  return builder.finish(outputs, retrace);
}

/** A model: its forward function, its declared inputs and its dims, as one value. */
export interface Model<I = unknown> {
  readonly kind: "model";
  readonly inputs: I;
  readonly dims: Dims;
  readonly fn: (inputs: Traced<I>) => TraceResult;
  /** Tokens one call processes, for tokens/s (a report's default: dims B × T, or B, or 1). */
  readonly tokensPerStep?: number;
  /**
   * The inputs (by key) whose shardings `shardcost search` may choose: their declared shardings
   * are the baseline it is held to.
   */
  readonly roles?: readonly string[];
}

/**
 * Bundles a forward function with its inputs and dims so that TypeScript infers the function's
 * argument: every declared `tensor()` arrives as a `Tracer`, at any depth of nesting.
 *
 * ```ts
 * export default model({ inputs, dims }, (t) => ({ y: einsum("BD,DF->BF", t.x, t.w) }));
 * ```
 *
 * (Writing the function on its own, type its argument `Traced<typeof inputs>`: a declared
 * `tensor()` is a spec, not a tracer.)
 */
export function model<I>(
  spec: {
    readonly inputs: I;
    readonly dims: Dims;
    readonly tokensPerStep?: number;
    readonly roles?: readonly (keyof I & string)[];
  },
  fn: (inputs: Traced<I>) => TraceResult,
): Model<I> {
  if (typeof fn !== "function") {
    throw new ShardcostError("input", "model(spec, fn): fn must be the forward function");
  }
  return {
    kind: "model",
    inputs: spec.inputs,
    dims: spec.dims,
    fn,
    ...(spec.tokensPerStep === undefined ? {} : { tokensPerStep: spec.tokensPerStep }),
    ...(spec.roles === undefined ? {} : { roles: spec.roles }),
  };
}

/** Whether a value is a `model()`. */
export function isModel(x: unknown): x is Model {
  return typeof x === "object" && x !== null && (x as Model).kind === "model";
}
