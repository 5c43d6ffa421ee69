import type { ErrorCode } from "./errors.js";

/**
 * Thrown by a shape rule with what is wrong; the tracer wraps it into an OpError naming the op,
 * quoting the operands and pointing at the user's source line.
 */
export class RuleError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "RuleError";
    this.code = code;
  }
}
