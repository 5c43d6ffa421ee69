import { produce } from "immer";
import { varCountOf } from "./graph.js";
import type { Program } from "./ir.js";

/** Drops equations none of whose results reach an output (dead code, as XLA's DCE does). */
export function eliminateDeadCode(program: Program): Program {
  const live = new Uint8Array(varCountOf(program));
  for (const o of program.outputs) live[o.var.id] = 1;
  const eqns = program.eqns;
  const keep = new Uint8Array(eqns.length);
  let dead = 0;
  // Indexed loops: this runs once per program, much of it before it is optimized, where
  // `for…of` allocates an iterator result per step.
  for (let i = eqns.length - 1; i >= 0; i--) {
    const eqn = eqns[i]!;
    let needed = false;
    const outputs = eqn.outputs;
    for (let k = 0; k < outputs.length; k++) if (live[outputs[k]!.id] === 1) needed = true;
    if (!needed) {
      dead++;
      continue;
    }
    keep[i] = 1;
    const inputs = eqn.inputs;
    for (let k = 0; k < inputs.length; k++) {
      const a = inputs[k]!;
      if (a.kind === "var") live[a.id] = 1;
    }
  }
  if (dead === 0) return program;
  return produce(program, (draft) => {
    draft.eqns = draft.eqns.filter((_, i) => keep[i] === 1);
  });
}
