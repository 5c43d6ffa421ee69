import { ShardcostError } from "./errors.js";
import type { Aval, Eqn, Program } from "./ir.js";
import { type NDArray, ndarray } from "./ndarray.js";
import { numericRules, type Operand, type ResultShape } from "./numeric-rules.js";

import { roundArray } from "./rounding.js";

/** A concrete input for `interpret`: an array with dims, or flat numbers in row-major order. */
export type ArrayInput = NDArray | ArrayLike<number>;

/** Runs one equation on concrete operands; results rounded to their dtypes. */
export function evalEqn(
  eqn: Eqn,
  args: readonly Operand[],
  out: readonly ResultShape[],
): NDArray[] {
  const rule = numericRules[eqn.primitive] as (
    a: readonly Operand[],
    e: Eqn,
    o: readonly ResultShape[],
  ) => NDArray[];
  const results = rule(args, eqn, out);
  results.forEach((r, i) => {
    roundArray(eqn.outputs[i]!.aval.dtype, r.data);
  });
  return results;
}

/** A value's dim names and global sizes (every dim at its full size). */
export function globalShape(aval: Aval, dims: Readonly<Record<string, number>>): ResultShape {
  return { dims: aval.dims.map((d) => d.dim), shape: aval.dims.map((d) => dims[d.dim]!) };
}

/** Checks and copies one input array into a rounded NDArray of the input's type. */
export function inputArray(path: string, aval: Aval, shape: ResultShape, given: ArrayInput) {
  const data = "data" in given ? (given as NDArray).data : (given as ArrayLike<number>);
  const n = shape.shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new ShardcostError(
      "input",
      `input ${path} has ${data.length} values but [${shape.dims.join(", ")}] = ` +
        `[${shape.shape.join(", ")}] holds ${n}`,
    );
  }
  if ("dims" in given && (given as NDArray).dims.join() !== shape.dims.join()) {
    throw new ShardcostError(
      "input",
      `input ${path} has dims [${(given as NDArray).dims}] but is declared [${shape.dims}]`,
    );
  }
  const a = ndarray(shape.dims, shape.shape, data);
  roundArray(aval.dtype, a.data);
  return a;
}

/**
 * Reference numerics: runs `program` on concrete arrays (by input path, row-major in the
 * declared dim order) in float64, rounding every result to its dtype (bf16 emulated).
 */
export function interpret(
  program: Program,
  arrays: Readonly<Record<string, ArrayInput>>,
): Record<string, NDArray> {
  const env = new Map<number, NDArray>();
  for (const input of program.inputs) {
    const given = arrays[input.path];
    if (given === undefined) {
      throw new ShardcostError("input", `no array given for input ${input.path}`);
    }
    const shape = globalShape(input.var.aval, program.dims);
    env.set(input.var.id, inputArray(input.path, input.var.aval, shape, given));
  }
  for (const eqn of program.eqns) {
    const args: Operand[] = eqn.inputs.map((a) => (a.kind === "var" ? env.get(a.id)! : a.value));
    const out = eqn.outputs.map((v) => globalShape(v.aval, program.dims));
    evalEqn(eqn, args, out).forEach((r, i) => {
      env.set(eqn.outputs[i]!.id, r);
    });
  }
  return Object.fromEntries(program.outputs.map((o) => [o.path, env.get(o.var.id)!]));
}
