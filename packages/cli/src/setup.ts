import { existsSync } from "node:fs";
import {
  CHIPS,
  type Chip,
  type DType,
  derate,
  type Efficiency,
  chip as lookupChip,
  PEAK_EFFICIENCY,
  ShardcostError,
  trace,
} from "@shardcost/core";
import {
  LLAMA3_PRESETS,
  type LlamaConfig,
  llamaStep,
  type Phase,
  readHfConfig,
  tokensPerStep as stepTokens,
} from "@shardcost/ops";
import {
  isLayoutName,
  LAYOUTS,
  type LayoutName,
  type ResolvedLayout,
  resolveLayout,
  type StepQuery,
} from "@shardcost/serving";
import {
  type Compiled,
  compile,
  type Mesh,
  mesh,
  parseMeshShape,
  type Traceable,
} from "@shardcost/sharding";
import {
  choice,
  closest,
  dimFlags,
  dtypeFlag,
  type Flags,
  positiveInt,
  UsageError,
} from "./args.js";
import { applyRolesFile, type CliLayout, placeFound, readLayoutFile } from "./layout-file.js";
import { loadModelFile, type ModelModule } from "./load-ts.js";

/** The dims of a built-in model that `--dim` may set, and the config field each sets. */
const BUILTIN_DIMS: Readonly<Record<string, keyof LlamaConfig>> = {
  L: "layers",
  D: "D",
  F: "F",
  N: "N",
  K: "K",
  H: "H",
  V: "V",
};

export const PRESET_NAMES = Object.keys(LLAMA3_PRESETS);
export const LAYOUT_NAMES = Object.keys(LAYOUTS) as LayoutName[];
/** Layout names as flags take them: the presets and weight-gathered's variants. */
export const LAYOUT_HINT = [...LAYOUT_NAMES, "weight-gathered:X|XY|XYZ", "FILE.json"];

/** `--mfu`, `--hbm-efficiency`, `--ici-efficiency`: fractions in (0, 1], default 1. */
export function efficiencyFromFlags(flags: Flags): Efficiency {
  const read = (flag: "mfu" | "hbm-efficiency" | "ici-efficiency") => {
    const text = flags[flag];
    if (text === undefined) return 1;
    const v = Number(text);
    if (!/^\d*\.?\d+$/.test(text.trim()) || !(v > 0 && v <= 1)) {
      throw new UsageError(
        `--${flag} ${JSON.stringify(text)}: a fraction of peak in (0, 1], e.g. 0.6`,
      );
    }
    return v;
  };
  return { mfu: read("mfu"), hbm: read("hbm-efficiency"), ici: read("ici-efficiency") };
}

/** The efficiencies a (possibly derated) chip runs at, against its catalog entry. */
export function efficiencyOf(c: Chip): Efficiency {
  const base = (CHIPS as Record<string, Chip>)[chipKey(c)];
  if (!base) return PEAK_EFFICIENCY;
  const cls = Object.keys(base.flops)[0] as keyof Chip["flops"];
  const round = (x: number) => +x.toFixed(6);
  return {
    mfu: round(c.flops[cls]! / base.flops[cls]!),
    hbm: round(c.hbmBandwidth / base.hbmBandwidth),
    ici: round(c.linkBandwidth / base.linkBandwidth),
  };
}

/** The one line every text output states: what its figures assume. */
export function assumptionLine(e: Efficiency): string {
  const pct = (x: number) => `${+(x * 100).toFixed(1)}%`;
  return (
    `Roofline at ${pct(e.mfu)} of peak FLOP/s, ${pct(e.hbm)} of HBM and ${pct(e.ici)} of ` +
    "link bandwidth (--mfu, --hbm-efficiency, --ici-efficiency)."
  );
}

/**
 * Parses `--mesh CHIP:AxBxC` into a mesh (axes X, Y, Z) on the chip derated by the efficiencies; a
 * bad mesh is a usage error.
 */
export function parseMesh(text: string, efficiency: Efficiency = PEAK_EFFICIENCY): Mesh {
  const m = /^([A-Za-z0-9]+):(\d+(?:x\d+){0,2})$/.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `--mesh ${JSON.stringify(text)}: write CHIP:AxBxC, e.g. v5e:4x4, v5e:2x2x2, v5e:1 or h100:8`,
    );
  }
  // Every way a --mesh value can be wrong (chip, axis sizes, slice shape) is the flag's: exit 2.
  try {
    return mesh(derate(lookupChip(m[1]!), efficiency), parseMeshShape(m[2]!));
  } catch (e) {
    if (e instanceof ShardcostError)
      throw new UsageError(`--mesh ${JSON.stringify(text)}: ${e.message}`);
    throw e;
  }
}

/** The catalog name of a chip (`v5e`), as flags spell it. */
export function chipKey(c: Chip): string {
  // By name: a chip derated to an efficiency is a copy of its catalog entry.
  return Object.entries(CHIPS).find(([, x]) => x.name === c.name)?.[0] ?? c.name;
}

export function meshText(m: Mesh): string {
  return `${chipKey(m.chip)}:${m.axes.map((a) => a.size).join("x")}`;
}

/** A built-in LLaMA (preset or config.json) with the step the flags ask for. */
export interface BuiltinModel {
  readonly kind: "builtin";
  readonly name: string;
  readonly config: LlamaConfig;
  readonly phase: Phase;
  readonly batch: number;
  readonly seq: number;
  readonly weights: DType;
  readonly kv: DType;
  readonly compute: DType;
  readonly attention: "flash" | "naive";
}

export interface FileModel {
  readonly kind: "file";
  readonly name: string;
  readonly module: ModelModule;
  readonly dims: Readonly<Record<string, number>>;
}

export type Model = BuiltinModel | FileModel;

/** Flags that shape a built-in model (a model file sets its own shapes). */
export const BUILTIN_ONLY = [
  "phase",
  "batch",
  "seq",
  "weights",
  "kv",
  "compute",
  "layout",
  "layers",
  "attention",
] as const;

/** `--dim` names a model file's dims: a name it does not have is a usage error listing them. */
export function checkDimNames(
  file: string,
  dims: Readonly<Record<string, number>>,
  names: string[],
) {
  for (const name of names) {
    if (!Object.hasOwn(dims, name)) {
      const names = Object.keys(dims);
      const near =
        names.find((d) => d.toLowerCase() === name.toLowerCase()) ??
        (name.length > 2 ? closest(name, names) : undefined);
      throw new UsageError(
        `--dim ${name}: ${file} has no dim ${name}${near ? ` (did you mean ${near}?)` : ""}; ` +
          `its dims are ${Object.keys(dims).join(", ")}`,
      );
    }
  }
}

/** The model named by `--model` or the positional model file, with the flags applied. */
export async function modelFromFlags(flags: Flags, positionals: readonly string[]): Promise<Model> {
  const file = positionals[0];
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
  if (file !== undefined && flags.model !== undefined) {
    throw new UsageError("give a model file or --model, not both");
  }
  if (file !== undefined) {
    // A roles file (`search model.ts --save`) is the one layout a model file takes.
    const rolesFile = flags.layout?.endsWith(".json") ? flags.layout : undefined;
    for (const f of BUILTIN_ONLY) {
      if (flags[f] !== undefined && !(f === "layout" && rolesFile)) {
        throw new UsageError(
          `--${f} applies to built-in models (--model); a model file sets its own shapes — use --dim NAME=SIZE`,
        );
      }
    }
    const loaded = await loadModelFile(file);
    const module = rolesFile
      ? {
          ...loaded,
          inputs: applyRolesFile(rolesFile, loaded.inputs as Readonly<Record<string, unknown>>),
        }
      : loaded;
    const resized = dimFlags(flags.dim);
    checkDimNames(file, module.dims, Object.keys(resized));
    const dims = { ...module.dims, ...resized };
    return { kind: "file", name: file, module, dims };
  }
  if (flags.model === undefined) {
    throw new UsageError(
      "which model? give a model file (model.ts) or --model llama3-8b|llama3-70b|llama3-405b|PATH/config.json",
    );
  }
  let config = configFromName(flags.model);
  if (flags.layers !== undefined)
    config = { ...config, layers: positiveInt("layers", flags.layers) };
  // --dim on a built-in model resizes it: D, F, N, K, H, V (and L, the layers).
  const resized = dimFlags(flags.dim);
  for (const [name, size] of Object.entries(resized)) {
    const field = Object.hasOwn(BUILTIN_DIMS, name) ? BUILTIN_DIMS[name] : undefined;
    if (!field) {
      throw new UsageError(
        `--dim ${name}: a built-in model's dims are ${Object.keys(BUILTIN_DIMS).join(", ")} ` +
          "(the batch and sequence are --batch and --seq)",
      );
    }
    config = { ...config, [field]: size, name: `${config.name} (${name}=${size})` };
  }
  const phase =
    flags.phase === undefined
      ? "decode"
      : choice("phase", flags.phase, ["prefill", "decode"] as const);
  return {
    kind: "builtin",
    name: config.name,
    config,
    phase,
    batch: flags.batch === undefined ? 1 : positiveInt("batch", flags.batch),
    seq: flags.seq === undefined ? 2048 : positiveInt("seq", flags.seq),
    weights: flags.weights === undefined ? "bf16" : dtypeFlag("weights", flags.weights),
    kv: flags.kv === undefined ? "bf16" : dtypeFlag("kv", flags.kv),
    compute: flags.compute === undefined ? "bf16" : dtypeFlag("compute", flags.compute),
    attention:
      flags.attention === undefined
        ? "flash"
        : choice("attention", flags.attention, ["flash", "naive"] as const),
  };
}

export function configFromName(name: string): LlamaConfig {
  const key = name.toLowerCase();
  if (Object.hasOwn(LLAMA3_PRESETS, key)) return LLAMA3_PRESETS[key]!;
  if (name.endsWith(".json") || existsSync(name)) {
    if (!existsSync(name)) throw new ShardcostError("input", `config file ${name} not found`);
    return readHfConfig(name);
  }
  throw new UsageError(
    `--model ${JSON.stringify(name)}: one of ${PRESET_NAMES.join(", ")} or a path to a Hugging Face config.json`,
  );
}

export function layoutFromFlags(flags: Flags, m: Mesh, model: Model): CliLayout | undefined {
  if (model.kind === "file") return undefined;
  if (flags.layout !== undefined) {
    if (isLayoutName(flags.layout)) return flags.layout;
    if (flags.layout.endsWith(".json") || existsSync(flags.layout)) {
      return readLayoutFile(flags.layout);
    }
    return choice("layout", flags.layout, isLayoutName, LAYOUT_HINT);
  }
  return m.chips > 1 ? "1d-ws" : undefined;
}

/** Tokens one step processes: decode one per sequence, prefill every prompt token. */
export function tokensPerStep(model: Model): number {
  if (model.kind === "builtin") return stepTokens(model.phase, model.batch, model.seq);
  if (model.module.tokensPerStep !== undefined) return model.module.tokensPerStep;
  return (model.dims.B ?? 1) * (model.dims.T ?? 1);
}

/** The step a built-in model's flags ask for, at `batch` if given. */
export function stepQuery(model: BuiltinModel, batch = model.batch): StepQuery {
  return {
    phase: model.phase,
    batch,
    seq: model.seq,
    weights: model.weights,
    kv: model.kv,
    compute: model.compute,
    attention: model.attention,
  };
}

/** A named layout resolved for a built-in model's step on `m` (a model file has none). */
export function resolveFor(
  model: Model,
  m: Mesh,
  layout: CliLayout | undefined,
  batch?: number,
): ResolvedLayout | undefined {
  if (model.kind === "file" || layout === undefined) return undefined;
  const query = stepQuery(model, batch);
  if (typeof layout !== "string") {
    return placeFound(layout, model.config, m, {
      phase: query.phase,
      batch: query.batch,
      seq: query.seq ?? 2048,
    });
  }
  return resolveLayout(layout, model.config, m, query);
}

/** `model` under a resolved layout (at `batch` if given) through the pipeline, on `m`. */
export function compileModel(
  model: Model,
  m: Mesh,
  layout: ResolvedLayout | undefined,
  batch?: number,
): Compiled {
  if (model.kind === "file") {
    const dims = batch === undefined ? model.dims : { ...model.dims, B: batch };
    const { fn, inputs } = model.module;
    return compile({ fn: fn as Traceable<unknown>["fn"], inputs, dims }, { mesh: m });
  }
  const options = { ...stepQuery(model, batch), ...(layout ? { layout } : {}) };
  checkTraceSize(model, options);
  return compile(llamaStep(model.config, model.phase, options), { mesh: m });
}

/**
 * The most equations a full trace may hold (about 1,200 LLaMA layers; tracing, lowering and
 * costing that many takes a few seconds and a few hundred MB here).
 */
export const MAX_TRACED_EQNS = 60_000;

/**
 * A deep model is measured before it is traced: layers repeat, so two- and three-layer traces
 * predict the full one. Past `MAX_TRACED_EQNS` it is a typed error pointing at `sweep`, whose
 * engine costs a periodic model from those two traces alone — never minutes of tracing and an
 * out-of-memory crash.
 */
function checkTraceSize(model: BuiltinModel, options: Parameters<typeof llamaStep>[2]) {
  const layers = model.config.layers;
  if (layers <= 256) return;
  const count = (l: number) => {
    const s = llamaStep({ ...model.config, layers: l }, model.phase, options);
    return trace(s.fn, s.inputs, s.dims, { sourceLocations: false }).eqns.length;
  };
  const two = count(2);
  const perLayer = count(3) - two;
  const predicted = two + (layers - 2) * perLayer;
  if (predicted <= MAX_TRACED_EQNS) return;
  const most = 2 + Math.floor((MAX_TRACED_EQNS - two) / Math.max(1, perLayer));
  throw new ShardcostError(
    "resource",
    `${model.name} with ${layers.toLocaleString("en-US")} layers would trace about ` +
      `${predicted.toLocaleString("en-US")} equations; a full trace holds at most ` +
      `${MAX_TRACED_EQNS.toLocaleString("en-US")} (${most.toLocaleString("en-US")} layers of this model). ` +
      "`shardcost sweep` costs a model of any depth from two- and three-layer traces: " +
      `shardcost sweep --model … --layers ${layers} --batch ${model.batch}`,
  );
}
