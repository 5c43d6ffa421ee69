import { avalBytes, type SizeContext } from "./cost-rules.js";
import type { Fusion } from "./fusion.js";
import type { ProgramGraph } from "./graph.js";
import type { Program } from "./ir.js";
import { kernelTraits } from "./kernel-cost.js";

/** What one chip holds at the step's peak, against its HBM. */
export interface MemoryEstimate {
  readonly paramBytes: number;
  readonly cacheBytes: number;
  /** Peak bytes of activations live at once (inputs, intermediates written to HBM, outputs). */
  readonly activationBytes: number;
  readonly totalBytes: number;
  readonly capacityBytes: number;
  readonly fits: boolean;
  /** capacity − total: how much room is left, negative by how much it misses. */
  readonly headroomBytes: number;
}

/** The verdict on what a chip holds: total, whether it fits and by how much (the one place). */
export function memoryVerdict(
  held: {
    readonly paramBytes: number;
    readonly cacheBytes: number;
    readonly activationBytes: number;
  },
  capacityBytes: number,
): MemoryEstimate {
  const totalBytes = held.paramBytes + held.cacheBytes + held.activationBytes;
  return {
    paramBytes: held.paramBytes,
    cacheBytes: held.cacheBytes,
    activationBytes: held.activationBytes,
    totalBytes,
    capacityBytes,
    fits: totalBytes <= capacityBytes,
    headroomBytes: capacityBytes - totalBytes,
  };
}

/**
 * Parameters and caches are resident; activations are live from the kernel that writes them
 * to the last kernel that reads them. An in-place update's result shares its operand's buffer.
 */
export function memoryOf(
  program: Program,
  graph: ProgramGraph,
  fusion: Fusion,
  sizes: SizeContext,
  readsByGroup: readonly (readonly number[])[],
  capacityBytes: number,
  /** When given, filled with the bytes live at each kernel position (`end + 1` of them). */
  profile?: (live: Float64Array) => void,
): MemoryEstimate {
  let paramBytes = 0;
  let cacheBytes = 0;
  const n = graph.varCount;
  const buffer = new Int32Array(n).fill(-1); // var id → id of the var whose buffer holds it
  const born = new Int32Array(n).fill(-1); // buffer → group position where it is allocated
  const dies = new Int32Array(n).fill(-1); // buffer → last group position that needs it
  const bytes = new Float64Array(n);
  for (const input of program.inputs) {
    const id = input.var.id;
    const b = avalBytes(input.var.aval, sizes);
    buffer[id] = id;
    if (input.role === "param") paramBytes += b;
    else if (input.role === "cache") cacheBytes += b;
    else {
      bytes[id] = b;
      born[id] = 0;
    }
  }
  const groups = fusion.groups;
  for (let pos = 0; pos < groups.length; pos++) {
    for (const i of groups[pos]!.eqns) {
      const eqn = program.eqns[i]!;
      if (kernelTraits[eqn.primitive].inPlace) {
        const operand = eqn.inputs[0]!;
        if (operand.kind === "var") buffer[eqn.outputs[0]!.id] = buffer[operand.id]!;
        continue;
      }
      for (const v of eqn.outputs) {
        if (buffer[v.id] !== -1) continue;
        buffer[v.id] = v.id;
        born[v.id] = pos;
        bytes[v.id] = avalBytes(v.aval, sizes);
      }
    }
    for (const v of readsByGroup[pos]!) {
      const b = buffer[v]!;
      if (b >= 0 && dies[b]! < pos) dies[b] = pos;
    }
  }
  const end = groups.length;
  for (const o of program.outputs) {
    const b = buffer[o.var.id]!;
    if (b >= 0) dies[b] = end;
  }
  // Sweep: +bytes at birth, −bytes after death. Buffers no kernel reads and no output holds
  // are fused intermediates that never reach HBM; resident buffers were counted above.
  const delta = new Float64Array(end + 2);
  for (let b = 0; b < n; b++) {
    if (born[b]! < 0 || dies[b]! < 0) continue;
    delta[born[b]!]! += bytes[b]!;
    delta[dies[b]! + 1]! -= bytes[b]!;
  }
  let live = 0;
  let peak = 0;
  const at = profile ? new Float64Array(end + 1) : undefined;
  for (let p = 0; p <= end; p++) {
    live += delta[p]!;
    peak = Math.max(peak, live);
    if (at) at[p] = live;
  }
  if (at) profile!(at);
  return memoryVerdict({ paramBytes, cacheBytes, activationBytes: peak }, capacityBytes);
}
