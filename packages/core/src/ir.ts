import type { DType } from "./dtype.js";
import type { DimSharding } from "./notation.js";
import type { ParamsOf, Primitive } from "./primitives.js";
import type { StackCapture } from "./source.js";

/** A value's type: dtype, named dims (each with its mesh axes) and pending partial sums. */
export interface Aval {
  readonly dtype: DType;
  readonly dims: readonly DimSharding[];
  readonly partial: readonly string[];
}

/** A named, typed value of a program: produced once, by an input or an equation. */
export interface Var {
  readonly kind: "var";
  readonly id: number;
  readonly name: string;
  readonly aval: Aval;
}

/** A scalar constant operand, broadcast to any shape. */
export interface Literal {
  readonly kind: "literal";
  readonly value: number;
}

/** An equation's operand: a var or a literal number. */
export type Atom = Var | Literal;

/** One equation of primitive `P`: its params, operands and results, and where it was traced. */
export interface EqnOf<P extends Primitive> {
  readonly primitive: P;
  readonly params: ParamsOf<P>;
  readonly inputs: readonly Atom[];
  readonly outputs: readonly Var[];
  /** Where the user's code called the op that traced this equation. */
  readonly source?: StackCapture;
  /** Why a pass inserted this equation, e.g. "for c = einsum[BD,DF->BF]"; printed as a comment. */
  readonly note?: string;
  /** The traced equation a pass inserted this one for: its source is this one's. */
  readonly origin?: Eqn;
}

/** An equation of any primitive; switching on `primitive` narrows `params`. */
export type Eqn = { [P in Primitive]: EqnOf<P> }[Primitive];

/** What an input holds, for memory accounting: weights, caches, or per-step activations. */
export type InputRole = "param" | "cache" | "activation";

/**
 * A program input: its var, its path in the inputs object and its role (weights, cache or
 * activation).
 */
export interface ProgramInput {
  readonly var: Var;
  readonly role: InputRole;
  /** Path of the leaf in the inputs object, e.g. "layers.3.wq". */
  readonly path: string;
  /** Where the input was declared, when declaration sites are recorded. */
  readonly site?: StackCapture;
}

/** A program output: its var and its path in the result object. */
export interface ProgramOutput {
  readonly var: Var;
  readonly path: string;
}

/** The IR of record: a flat, readonly list of equations in a valid execution order. */
export interface Program {
  readonly dims: Readonly<Record<string, number>>;
  readonly inputs: readonly ProgramInput[];
  readonly eqns: readonly Eqn[];
  readonly outputs: readonly ProgramOutput[];
  /**
   * Re-traces the same function with source capture on, for programs traced without it:
   * tracing is deterministic, so equation results get the same var ids (see `sourceOf`).
   */
  readonly retrace?: () => Program;
}
