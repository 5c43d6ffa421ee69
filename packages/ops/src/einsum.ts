import {
  bind1,
  callerLocation,
  composite,
  type DType,
  entry,
  isFloat,
  OpError,
  type ParamsOf,
  Primitive,
  precisionRank,
  type Tracer,
} from "@shardcost/core";
import { astype } from "./elementwise.js";

/** How `einsum` computes: the dtype its operands are cast to, and the result dtype. */
export interface EinsumOptions {
  /** Dtype the contraction runs in (operands are cast to it); default: the widest operand's. */
  readonly compute?: DType;
  /** Result dtype; default: the compute dtype, or bf16 for int8/int4/fp8 compute. */
  readonly out?: DType;
}

export interface ParsedSpec {
  readonly inputs: readonly (readonly string[])[];
  readonly output: readonly string[];
  /** Canonical text: compact ("BD,DF->BF") when every dim is one letter, else spaced. */
  readonly text: string;
}

/**
 * Parses "BD,DF->BF" (one letter a dim) or "B T D, D F -> B T F" (dims separated by spaces).
 */
const parsedSpecs = new Map<string, ParsedSpec>();

export function parseEinsumSpec(spec: string): ParsedSpec {
  const known = typeof spec === "string" ? parsedSpecs.get(spec) : undefined;
  if (known) return known;
  const bad = (why: string): never => {
    throw new OpError("einsum", "einsum", `spec "${spec}" ${why}`, callerLocation());
  };
  if (typeof spec !== "string") bad("is not a string");
  const arrow = spec.split("->");
  if (arrow.length !== 2) bad('needs exactly one "->", as in "BD,DF->BF"');
  const spaced = /\s/.test(spec.trim());
  const term = (t: string): string[] => {
    const s = t.trim();
    const dims = spaced ? s.split(/\s+/).filter((x) => x !== "") : [...s];
    for (const d of dims) if (!/^[A-Za-z][A-Za-z0-9]*$/.test(d)) bad(`has a bad dim name "${d}"`);
    if (new Set(dims).size !== dims.length) bad(`repeats a dim within "${s}"`);
    return dims;
  };
  const inputs = arrow[0]!.split(",").map(term);
  if (inputs.some((t) => t.length === 0) && arrow[0]!.trim() === "") bad("names no operands");
  const output = term(arrow[1]!);
  const compact = [...inputs.flat(), ...output].every((d) => d.length === 1);
  const text = compact
    ? `${inputs.map((t) => t.join("")).join(",")}->${output.join("")}`
    : `${inputs.map((t) => t.join(" ")).join(", ")} -> ${output.join(" ")}`;
  const parsed = { inputs, output, text };
  parsedSpecs.set(spec, parsed);
  return parsed;
}

const paramsBySpec = new WeakMap<ParsedSpec, Map<DType, ParamsOf<Primitive.Einsum>>>();

/** One params object per spec and result dtype, shared by every einsum that takes them. */
function einsumParams(parsed: ParsedSpec, outDtype: DType): ParamsOf<Primitive.Einsum> {
  const byDtype = entry(paramsBySpec, parsed, () => new Map<DType, ParamsOf<Primitive.Einsum>>());
  let p = byDtype.get(outDtype);
  if (p === undefined) {
    p = Object.freeze({
      spec: parsed.text,
      inputs: parsed.inputs,
      output: parsed.output,
      outDtype,
    });
    byDtype.set(outDtype, p);
  }
  return p;
}

const NO_OPTIONS: EinsumOptions = Object.freeze({});

function defaultOut(compute: DType): DType {
  return isFloat(compute) && compute !== "fp8e4m3" && compute !== "fp8e5m2" ? compute : "bf16";
}

/**
 * Contraction over named dims: operands are matched to the spec's terms by dim name (their
 * order in the spec may differ from the tensor's). Mixed dtypes are cast to the compute dtype,
 * and the cast fuses into the einsum (int8 weights are read at one byte each).
 */
export const einsum = composite(function einsum(
  spec: string,
  ...args: [...Tracer[], EinsumOptions] | Tracer[]
): Tracer {
  const last = args[args.length - 1];
  const hasOptions = last !== undefined && !(last as { var?: unknown }).var;
  const options = (hasOptions ? last : NO_OPTIONS) as EinsumOptions;
  const operands = (hasOptions ? args.slice(0, -1) : args) as Tracer[];
  const parsed = parseEinsumSpec(spec);
  // The widest operand dtype (the first of the widest), unless the options say.
  let widest: DType | undefined;
  for (const o of operands) {
    const d = o?.dtype;
    if (d !== undefined && (widest === undefined || precisionRank(d) > precisionRank(widest))) {
      widest = d;
    }
  }
  const compute = options.compute ?? widest ?? "bf16";
  let cast = operands;
  for (let i = 0; i < operands.length; i++) {
    const o = operands[i];
    if (!o?.var || o.dtype === compute) continue;
    if (cast === operands) cast = operands.slice();
    cast[i] = astype(o, compute);
  }
  return bind1(Primitive.Einsum, cast, einsumParams(parsed, options.out ?? defaultOut(compute)));
});

const specs = new WeakMap<readonly string[], WeakMap<readonly string[], Map<string, string>>>();

/**
 * The einsum spec contracting dims `a` and `b` to `out`, made once per (dims lists, result):
 * a tensor's dim names are one shared list per type, so repeated layers find it by identity.
 */
function contractionSpec(
  a: readonly string[],
  b: readonly string[],
  out: readonly string[],
): string {
  const byB = entry(specs, a, () => new WeakMap<readonly string[], Map<string, string>>());
  const byOut = entry(byB, b, () => new Map<string, string>());
  const key = out.join(" ");
  let spec = byOut.get(key);
  if (spec === undefined) {
    spec = `${a.join(" ")}, ${b.join(" ")} -> ${key}`;
    byOut.set(key, spec);
  }
  return spec;
}

/** An einsum written by dim names: contracts every dim of `a` and `b` not in `out`. */
export const contractTo = composite(function contractTo(
  out: readonly string[],
  a: Tracer,
  b: Tracer,
  options?: EinsumOptions,
) {
  const spec = contractionSpec(a.dims, b.dims, out);
  return options ? einsum(spec, a, b, options) : einsum(spec, a, b);
});

/**
 * `contractTo` with fixed options, e.g. a model's weight matmul in int8: the returned function
 * is the library's, so equations it traces point at its caller's line.
 */
export function contractWith(options: EinsumOptions | undefined) {
  return (out: readonly string[], a: Tracer, b: Tracer) => contractTo(out, a, b, options);
}
