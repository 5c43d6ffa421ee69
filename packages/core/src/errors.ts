import type { SourceLocation } from "./source.js";

/** Every error shardcost raises on bad input. `code` is stable; the message says how to fix it. */
export type ErrorCode =
  | "notation"
  | "unknown-dim"
  | "dim-size"
  | "einsum"
  | "shape"
  | "dtype"
  | "input"
  | "hardware"
  | "mesh"
  | "sharding"
  | "ambiguous"
  | "resource"
  | "timeout";

/**
 * The one error type the library throws: a `code` saying what kind of mistake, a message that names
 * the tensor, the op and the user's source line, and how to fix it.
 */
export class ShardcostError extends Error {
  readonly code: ErrorCode;
  readonly source: SourceLocation | undefined;
  constructor(code: ErrorCode, message: string, source?: SourceLocation) {
    super(source ? `${message}\n  at ${source.file}:${source.line}` : message);
    this.name = "ShardcostError";
    this.code = code;
    this.source = source;
  }
}

/** Malformed sharding notation, a mesh axis used twice, or an unknown dim in a spec. */
export class NotationError extends ShardcostError {
  readonly text: string;
  readonly reason: string;
  constructor(text: string, reason: string, code: ErrorCode = "notation", source?: SourceLocation) {
    super(code, `bad sharding notation "${text}": ${reason}`, source);
    this.name = "NotationError";
    this.text = text;
    this.reason = reason;
  }
}

/**
 * An op applied to operands it cannot take: mismatched einsum dims, unknown dims, inconsistent
 * sizes, an unsupported dtype. Names the op, quotes the operands and the user's source line.
 */
export class OpError extends ShardcostError {
  readonly op: string;
  constructor(code: ErrorCode, op: string, message: string, source?: SourceLocation) {
    super(code, `${op}: ${message}`, source);
    this.name = "OpError";
    this.op = op;
  }
}
