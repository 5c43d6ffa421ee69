import { produce } from "immer";
import { varCountOf } from "./graph.js";
import type { Program } from "./ir.js";

/** Drops equations none of whose results reach an output (dead code, as XLA's DCE does). */
export function eliminateDeadCode(program: Program): Program {
  const live = new Uint8Array(varCountOf(program));
  for (const o of program.outputs) live[o.var.id] = 1;
  const keep: boolean[] = new Array(program.eqns.length).fill(false);
  for (let i = program.eqns.length - 1; i >= 0; i--) {
    const eqn = program.eqns[i]!;
    let needed = false;
    for (const v of eqn.outputs) if (live[v.id] === 1) needed = true;
    if (!needed) continue;
    keep[i] = true;
    for (const a of eqn.inputs) if (a.kind === "var") live[a.id] = 1;
  }
  if (keep.every(Boolean)) return program;
  return produce(program, (draft) => {
    draft.eqns = draft.eqns.filter((_, i) => keep[i]);
  });
}
