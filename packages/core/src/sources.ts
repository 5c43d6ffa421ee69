import type { Eqn, Program } from "./ir.js";
import type { StackCapture } from "./source.js";

const recovered = new WeakMap<() => Program, Map<number, StackCapture>>();

/**
 * The user's call that traced `eqn`: recorded at trace time, or recovered by re-tracing once
 * (cached per trace) and matching the equation by the var id of its first result.
 */
export function sourceOf(program: Program, eqn: Eqn): StackCapture | undefined {
  if (eqn.source) return eqn.source;
  if (eqn.origin) return sourceOf(program, eqn.origin);
  const retrace = program.retrace;
  const first = eqn.outputs[0];
  if (!retrace || !first) return undefined;
  let table = recovered.get(retrace);
  if (!table) {
    table = new Map();
    for (const e of retrace().eqns) {
      const v = e.outputs[0];
      if (v && e.source) table.set(v.id, e.source);
    }
    recovered.set(retrace, table);
  }
  return table.get(first.id);
}
