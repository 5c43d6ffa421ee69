import { type Program, trace } from "@shardcost/core";
import { type LlamaConfig, llamaStep, type Phase, type StepOptions } from "@shardcost/ops";
import { type Compiled, compile, type Mesh } from "@shardcost/sharding";
import { type LayoutName, type ResolvedLayout, resolveLayout } from "./layouts/index.js";

/** What a step is asked for: the model's step options but the layout (and mesh), a phase. */
export interface StepQuery extends Omit<StepOptions, "layout" | "mask"> {
  readonly phase: Phase;
}

/** A model step compiled under a named layout, with the choices the layout made. */
export interface CompiledStep {
  readonly compiled: Compiled;
  /** The layout resolved for this model, mesh and step (none without a layout). */
  readonly resolved: ResolvedLayout | undefined;
}

/**
 * A LLaMA-family step under a named layout on `m`, through the one pipeline (`compile`):
 * resolve the layout for this model, mesh and step, trace, lower, fuse, estimate.
 */
export function compileStep(
  config: LlamaConfig,
  query: StepQuery,
  layout: LayoutName | ResolvedLayout | undefined,
  m: Mesh,
): CompiledStep {
  const resolved = typeof layout === "string" ? resolveLayout(layout, config, m, query) : layout;
  return { compiled: compile(stepOf(config, query, resolved), { mesh: m }), resolved };
}

/**
 * The program `compileStep` traces, before lowering: it depends on the layout as resolved, not
 * on the mesh, so meshes whose layouts resolve alike can lower one traced program.
 */
export function traceStep(
  config: LlamaConfig,
  query: StepQuery,
  resolved: ResolvedLayout | undefined,
): Program {
  const step = stepOf(config, query, resolved);
  return trace(step.fn, step.inputs, step.dims, { sourceLocations: "lazy" });
}

function stepOf(config: LlamaConfig, query: StepQuery, resolved: ResolvedLayout | undefined) {
  const options = resolved ? { ...query, layout: resolved } : query;
  return llamaStep(config, query.phase, options);
}
