import { COLLECTIVES, isCollective } from "./collectives.js";
import type { Atom, Aval, Eqn, Program, Var } from "./ir.js";
import { printDim, printPartial, printSharding } from "./notation.js";
import { type ParamsOf, Primitive } from "./primitives.js";
import { formatLocation } from "./source.js";

/** `bf16[B, F_YZ]{U_X}`: dtype, then dims with their mesh axes, then pending partial sums. */
export function printType(aval: Aval): string {
  return `${aval.dtype}[${aval.dims.map(printDim).join(", ")}]${printPartial(aval.partial)}`;
}

/** A var with its type: `h:bf16[B, F_YZ]`. */
export function printVar(v: Var): string {
  return `${v.name}:${printType(v.aval)}`;
}

/** An operand: a typed var, or a literal. */
export function printAtom(a: Atom): string {
  return a.kind === "var" ? printVar(a) : String(a.value);
}

type ParamPrinter<P extends Primitive> = (p: ParamsOf<P>) => string;
const none: ParamPrinter<Primitive> = () => "";
const reduceDims = (p: { readonly dims: readonly string[] }) => p.dims.join(",");

const paramPrinters: { readonly [P in Primitive]: ParamPrinter<P> } = {
  [Primitive.Einsum]: (p) => p.spec,
  [Primitive.Exp]: none,
  [Primitive.Log]: none,
  [Primitive.Tanh]: none,
  [Primitive.Rsqrt]: none,
  [Primitive.Neg]: none,
  [Primitive.Silu]: none,
  [Primitive.Gelu]: none,
  [Primitive.Cast]: (p) => p.dtype,
  [Primitive.Add]: none,
  [Primitive.Sub]: none,
  [Primitive.Mul]: none,
  [Primitive.Div]: none,
  [Primitive.Max]: none,
  [Primitive.ReduceSum]: reduceDims,
  [Primitive.ReduceMax]: reduceDims,
  [Primitive.ReduceMean]: (p) =>
    p.count === undefined ? reduceDims(p) : `${reduceDims(p)} /${p.count}`,
  [Primitive.Gather]: (p) => p.dim,
  [Primitive.DynamicSlice]: (p) => (p.outDim === null ? p.dim : `${p.dim}→${p.outDim}`),
  [Primitive.DynamicUpdateSlice]: (p) => (p.updateDim === null ? p.dim : `${p.dim}←${p.updateDim}`),
  [Primitive.Rename]: (p) => `${p.from}→${p.to}`,
  [Primitive.Split]: (p) => `${p.dim}→${p.into.join(",")}`,
  [Primitive.Merge]: (p) => `${p.dims.join(",")}→${p.into}`,
  [Primitive.Concatenate]: (p) => `${p.inputDims.join(",")}→${p.dim}`,
  [Primitive.FlashAttention]: (p) =>
    `${p.query ?? "-"},${p.key},${p.head} scale=${+p.scale.toFixed(6)}${p.stats ? " +lse" : ""}`,
  [Primitive.Shard]: (p) => printSharding(p.sharding),
  [Primitive.AllGather]: (p) => (p.parts ? p.parts.map((q) => q.dim).join(",") : p.dim),
  [Primitive.ReduceScatter]: (p) => `${p.dim}`,
  [Primitive.AllReduce]: (p) => (p.op === "max" ? "max" : ""),
  [Primitive.AllToAll]: (p) => `${p.from}→${p.to}`,
  [Primitive.ShardSlice]: (p) => `${p.dim}_${p.axes.join("")}`,
};

/**
 * `einsum[BD,DF->BF]`: the primitive's printed name with its params; collectives print as the
 * book writes them, with their axes: `AllGather_XY[B]`.
 */
export function printOp(eqn: Eqn): string {
  // Params are shared, frozen objects (one per distinct value): their text is made once per
  // primitive. Params that could still change are printed afresh.
  const params = eqn.params as object;
  if (!Object.isFrozen(params)) return opText(eqn);
  let texts = opTexts.get(params);
  if (texts === undefined) {
    texts = new Map();
    opTexts.set(params, texts);
  }
  let text = texts.get(eqn.primitive);
  if (text === undefined) {
    text = opText(eqn);
    texts.set(eqn.primitive, text);
  }
  return text;
}

const opTexts = new WeakMap<object, Map<Primitive, string>>();

function opText(eqn: Eqn): string {
  if (isCollective(eqn.primitive)) {
    const collective = COLLECTIVES[eqn.primitive].name;
    const axes = (eqn.params as { readonly axes: readonly string[] }).axes.join("");
    const printerC = paramPrinters[eqn.primitive] as ParamPrinter<typeof eqn.primitive>;
    const where = printerC(eqn.params as never);
    return `${collective}_${axes}${where === "" ? "" : `[${where}]`}`;
  }
  const printer = paramPrinters[eqn.primitive] as ParamPrinter<typeof eqn.primitive>;
  const params = printer(eqn.params as never);
  return params === "" ? eqn.primitive : `${eqn.primitive}[${params}]`;
}

/** How `printEqn` and `printProgram` print. */
export interface PrintOptions {
  /** Append `# file:line` of the user's call to every equation. */
  readonly source?: boolean;
}

/** One equation in the book's notation: `h:bf16[B, F] = einsum[BD,DF->BF] x:bf16[B, D] ...`. */
export function printEqn(eqn: Eqn, options: PrintOptions = {}): string {
  const lhs = eqn.outputs.map(printVar).join(" ");
  const rhs = [printOp(eqn), ...eqn.inputs.map(printAtom)].join(" ");
  const notes = [eqn.note, options.source ? formatLocation(eqn.source?.location) : undefined];
  const comment = notes.filter((n) => n !== undefined).join(" · ");
  return `${lhs} = ${rhs}${comment === "" ? "" : `  # ${comment}`}`;
}

/** A whole program, jaxpr-like: inputs, one equation a line, outputs. */
export function printProgram(program: Program, options: PrintOptions = {}): string {
  const lines = [`{ lambda ${program.inputs.map((i) => printVar(i.var)).join(" ")} .`];
  for (const eqn of program.eqns) lines.push(`    ${printEqn(eqn, options)}`);
  lines.push(`  in (${program.outputs.map((o) => o.var.name).join(", ")}) }`);
  return lines.join("\n");
}
