import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import {
  CHIPS,
  derate,
  type Eqn,
  formatBytes,
  formatLocation,
  formatTime,
  isCollective,
  linkName,
  type Program,
  printEqn,
  ShardcostError,
  setFrameMapper,
  sourceOf,
  table,
  userFrame,
} from "@shardcost/core";
import {
  isLayoutName,
  type RoleModel,
  STUDY_SHAPES,
  StepEstimator,
  searchRoles,
} from "@shardcost/serving";
import { mesh, PASSES } from "@shardcost/sharding";
import {
  choice,
  choiceList,
  closest,
  dtypeList,
  duration,
  type FlagName,
  type Flags,
  intList,
  parseFlags,
  partFlag,
  positiveInt,
  positiveNumber,
  UsageError,
} from "./args.js";
import { reportData, reportHtml } from "./html.js";
import { init } from "./init.js";
import { layoutFileText, rolesFileText } from "./layout-file.js";
import { formatPlan, plan } from "./plan.js";
import { describeModel, estimateFull, estimateModel, formatEstimate } from "./report.js";
import {
  chosenStep,
  formatMerged,
  formatRoleSearch,
  formatSearch,
  mergedLayoutFile,
  mergeSearches,
  OBJECTIVES,
  roleSearchJson,
  runSearch,
  searchJson,
} from "./search.js";
import {
  BUILTIN_ONLY,
  checkDimNames,
  chipKey,
  efficiencyFromFlags,
  LAYOUT_HINT,
  layoutFromFlags,
  meshText,
  modelFromFlags,
  parseMesh,
  stepQuery,
} from "./setup.js";
import { mapFrame } from "./source-maps.js";
import { fileSweepCsv, gridSize, progressBar, runFileSweep, runSweep, sweepCsv } from "./sweep.js";
import { chromeTrace } from "./timeline.js";

const USAGE = `usage: shardcost <command> [model.ts | --model NAME] [flags]

commands:
  estimate   per-op table, collectives, memory verdict and totals for one step (--json: the report)
  sweep      every combination of --batch, --mesh, --layout, --weights, --kv, --compute (CSV or JSON)
  compare    layouts side by side across meshes (default: 1d-ws vs 2d-ws from 8 to 256 chips)
  explain    the traced and lowered programs in notation, each collective with its cause
  report     a self-contained HTML report with charts (--out FILE.html, default shardcost-report.html)
  trace      a simulated step timeline for Perfetto / chrome://tracing (--out FILE.json,
             default shardcost-trace.json)
  search     the fastest per-role layout on a mesh, beside the named ones, and why it wins
             (--objective step|throughput|pareto --budget 10s --save FILE.json)
  init [DIR] a starter model.ts and a tsconfig.json that resolves @shardcost/* (default DIR: .)

model:  a TypeScript file exporting default (the forward function), inputs and dims,
        or --model llama3-8b | llama3-70b | llama3-405b | PATH/config.json
flags:  --mesh CHIP:AxBxC (axes X, Y, Z; v5e:1 is one chip, h100:8 one node)
        --phase prefill|decode  --batch N  --seq N  --weights/--kv/--compute DTYPE
        --layout 1d-ws|2d-ws|weight-gathered|fsdp|FILE.json  --layers N  --attention flash|naive  --dim NAME=SIZE
        --json  --format csv|json  --out FILE  --top N
        --timeout SECONDS (a model file's run, default 60)
sweep and compare take lists: --batch 1,8..256 (doubling; 8..64:+8 stepped), --mesh v5e:4x4,v5e:8x8,
        --layout 1d-ws,2d-ws, --weights bf16,int8
shardcost COMMAND --help lists a command's flags; shardcost --version prints the version.
exit status: 0 ok, 1 a model error (message and source line), 2 a usage error`;

/** Where the CLI writes: standard output, standard error, and whether stderr is a terminal. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly isTTY: boolean;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
};

/** The model and step flags every command takes. */
const MODEL_FLAGS: readonly FlagName[] = [
  "model",
  "mesh",
  "dim",
  "timeout",
  "mfu",
  "hbm-efficiency",
  "ici-efficiency",
  ...BUILTIN_ONLY,
];

/** Each command: what it does, and the flags it reads besides the model's. */
const COMMAND_HELP: {
  readonly [C in Command]: { readonly does: string; readonly flags: readonly FlagName[] };
} = {
  estimate: {
    does:
      "per-op table, collectives, memory verdict and totals for one step (--json: the report; " +
      "--full: trace every layer rather than two and three layers extrapolated)",
    flags: ["json", "out", "top", "full"],
  },
  sweep: {
    does: "every combination of --batch, --mesh, --layout, --weights, --kv, --compute (CSV or JSON)",
    flags: ["format", "json", "out"],
  },
  compare: {
    does: "layouts side by side across meshes (default: 1d-ws vs 2d-ws from 8 to 256 chips)",
    flags: ["json", "out"],
  },
  explain: {
    does:
      "the traced and lowered programs in notation, each collective with its cause " +
      "(--pass traced|lowered|fused|estimate: that pass's result alone)",
    flags: ["out", "pass"],
  },
  report: {
    does:
      "a self-contained HTML report with charts (--out FILE.html, default shardcost-report.html; " +
      "--search adds a layout search of the step, within --budget)",
    flags: ["out", "full", "search", "budget"],
  },
  trace: {
    does: "a simulated step timeline for Perfetto (--out FILE.json, default shardcost-trace.json)",
    flags: ["out"],
  },
  search: {
    does:
      "the fastest per-role layout of a built-in model's step on --mesh, beside every named " +
      "layout, with its collectives per layer and why it wins (--objective step|throughput|" +
      "pareto, --budget 10s, --workers N, --save FILE.json for estimate --layout FILE.json)",
    flags: ["objective", "budget", "workers", "save", "latency-ms", "part", "merge", "json", "out"],
  },
  plan: {
    does:
      "a deployment: every slice of --chip with its max batch, step, tokens/s and $/M tokens; " +
      "the smallest that fits; time to first token and a whole request on it",
    flags: [
      "chip",
      "context",
      "prompt",
      "output",
      "latency-ms",
      "min-throughput",
      "show-commands",
      "json",
      "out",
    ],
  },
};

function commandUsage(c: Command): string {
  const flags = [...MODEL_FLAGS, ...COMMAND_HELP[c].flags].map((f) => `--${f}`).join(" ");
  return (
    `usage: shardcost ${c} [model.ts | --model NAME] [flags]\n\n${COMMAND_HELP[c].does}\n\n` +
    `flags: ${flags}\n(shardcost --help for what each flag takes)`
  );
}

function version(): string {
  const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
  return pkg.version;
}

/** The command line being run, as the HTML report's assumptions block quotes it. */
let commandLine = "shardcost";

/** Runs the CLI; returns the exit status. Never throws, never prints a stack trace. */

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  // Built files' positions are mapped to their sources as reports name them.
  setFrameMapper(mapFrame);
  try {
    const { command, positionals, flags } = parseFlags(argv);
    if (flags.version) {
      io.out(`shardcost ${version()}\n`);
      return 0;
    }
    if (command === undefined && !flags.help) {
      io.err(`${USAGE}\n`);
      return 2;
    }
    if (command === undefined || command === "help") {
      io.out(`${USAGE}\n`);
      return 0;
    }
    if (command === "init") {
      if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
      if (Object.keys(flags).length > 0) throw new UsageError("init takes only a directory");
      for (const f of init(positionals[0] ?? ".")) io.out(`wrote ${f}\n`);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, command)) {
      const near = closest(command, [...Object.keys(COMMANDS), "init"]);
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}${near ? `; did you mean ${near}?` : ""}`,
      );
    }
    const c = command as Command;
    if (flags.timeout !== undefined) {
      const s = Number(flags.timeout);
      if (!/^\d+(\.\d+)?$/.test(flags.timeout.trim()) || !(s > 0) || s > 86_400) {
        throw new UsageError(
          `--timeout ${JSON.stringify(flags.timeout)}: seconds, a positive number up to 86400`,
        );
      }
    }
    if (flags.help) {
      io.out(`${commandUsage(c)}\n`);
      return 0;
    }
    const allowed = new Set<string>([...MODEL_FLAGS, ...COMMAND_HELP[c].flags]);
    const foreign = Object.keys(flags).find((f) => !allowed.has(f));
    if (foreign !== undefined) {
      throw new UsageError(
        `--${foreign} does not apply to ${c}; its flags are ` +
          `${[...COMMAND_HELP[c].flags].map((f) => `--${f}`).join(", ")} and the model's`,
        c,
      );
    }
    commandLine = ["shardcost", ...argv]
      .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
      .join(" ");
    await COMMANDS[c](flags, positionals, io);
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

function reportError(e: unknown, io: Io): number {
  if (e instanceof UsageError) {
    io.err(
      `shardcost: ${e.message}\n${USAGE.split("\n")[0]}\n(shardcost --help for commands and flags)\n`,
    );
    return 2;
  }
  if (e instanceof ShardcostError) {
    const where = e.source ? formatLocation(e.source) : "";
    const at = where && !e.message.includes(where) ? `\n  at ${where}` : "";
    io.err(`shardcost: error[${e.code}]: ${e.message}${at}\n`);
    return 1;
  }
  // An exception from the user's own model code: its message and the first line of theirs.
  const err = e instanceof Error ? e : new Error(String(e));
  const loc = userFrame(err.stack ?? "");
  const frame = loc ? formatLocation(loc) : "";
  io.err(`shardcost: error: ${err.name}: ${err.message}${frame ? `\n  at ${frame}` : ""}\n`);
  return 1;
}

function oneMesh(flags: Flags) {
  if (flags.mesh === undefined) return parseMesh("v5e:1", efficiencyFromFlags(flags));
  if (flags.mesh.includes(","))
    throw new UsageError("--mesh takes one mesh here (lists are for sweep and compare)");
  return parseMesh(flags.mesh, efficiencyFromFlags(flags));
}

/** Writes an output file; a path that cannot be written is the user's to fix (exit 1). */
function writeOut(path: string, text: string) {
  try {
    writeFileSync(path, text);
  } catch (e) {
    const reason =
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (e as Error).message;
    throw new ShardcostError("input", `cannot write ${path}: ${reason}`);
  }
}

function write(flags: Flags, io: Io, text: string) {
  if (flags.out === undefined) io.out(text);
  else writeOut(flags.out, text);
}

async function estimateCommand(flags: Flags, positionals: readonly string[], io: Io) {
  const model = await modelFromFlags(flags, positionals);
  const m = oneMesh(flags);
  const e = estimateModel(model, m, layoutFromFlags(flags, m, model), undefined, {
    full: flags.full === true,
  });
  const top = flags.top === undefined ? 15 : positiveInt("top", flags.top);
  write(
    flags,
    io,
    flags.json ? `${JSON.stringify(e.report, null, 2)}\n` : `${formatEstimate(e, top)}\n`,
  );
}

/** The most configurations one sweep costs (about 15 minutes at a millisecond each). */
const MAX_GRID = 1_000_000;

const gridTooLarge = (n: number) =>
  `the sweep names ${n.toLocaleString("en-US")} configurations; one sweep costs at most ` +
  `${MAX_GRID.toLocaleString("en-US")} (split it, or use coarser ranges)`;

async function sweepCommand(flags: Flags, positionals: readonly string[], io: Io) {
  // List-valued flags are read here; the rest through the single-model path.
  const lists = {
    ...flags,
    batch: undefined,
    mesh: undefined,
    layout: undefined,
    weights: undefined,
    kv: undefined,
    compute: undefined,
    dim: undefined,
  };
  const model = await modelFromFlags(lists, positionals);
  const format =
    flags.format === undefined
      ? flags.json
        ? "json"
        : "csv"
      : choiceList("format", flags.format, ["csv", "json"] as const)[0]!;
  const progress = io.isTTY
    ? (done: number, n: number) => io.err(`\r${progressBar(done, n)}`)
    : undefined;
  if (model.kind === "file") {
    // A model file sweeps meshes and lists of dim sizes (--dim B=8..256).
    const dimLists: Record<string, number[]> = {};
    for (const item of flags.dim ?? []) {
      const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(item);
      if (!m)
        throw new UsageError(`--dim ${JSON.stringify(item)}: write NAME=LIST, e.g. --dim B=8..256`);
      dimLists[m[1]!] = intList(`dim ${m[1]}`, m[2]!);
    }
    checkDimNames(model.name, model.module.dims, Object.keys(dimLists));
    const eff = efficiencyFromFlags(flags);
    const meshes = (flags.mesh ?? "v5e:1").split(",").map((t) => parseMesh(t, eff));
    const combos = Object.values(dimLists).reduce((n, l) => n * l.length, meshes.length);
    if (combos > MAX_GRID) throw new UsageError(gridTooLarge(combos));
    const rows = runFileSweep(model, meshes, dimLists, progress);
    if (progress) io.err("\n");
    write(
      flags,
      io,
      format === "json"
        ? `${JSON.stringify({ model: model.name, rows }, null, 2)}\n`
        : fileSweepCsv(rows, Object.keys(dimLists)),
    );
    return;
  }
  const grid = {
    config: model.config,
    phase: model.phase,
    seq: model.seq,
    attention: model.attention,
    batches: intList("batch", flags.batch ?? "1..256"),
    meshes: (flags.mesh ?? "v5e:2x4")
      .split(",")
      .map((t) => parseMesh(t, efficiencyFromFlags(flags))),
    layouts: choiceList("layout", flags.layout ?? "1d-ws", isLayoutName, LAYOUT_HINT),
    weights: dtypeList("weights", flags.weights ?? "bf16"),
    kv: dtypeList("kv", flags.kv ?? "bf16"),
    compute: dtypeList("compute", flags.compute ?? "bf16"),
  };
  const total = gridSize(grid);
  if (total > MAX_GRID) throw new UsageError(gridTooLarge(total));
  const rows = runSweep(grid, progress);
  if (progress) io.err("\n");
  const text =
    format === "json"
      ? `${JSON.stringify({ model: model.name, phase: model.phase, seq: model.seq, rows }, null, 2)}\n`
      : sweepCsv(rows);
  write(flags, io, text);
  if (flags.out !== undefined) {
    const fits = rows.filter((r) => r.fits).length;
    io.err(
      `${total} configurations, ${fits} fit, ${rows.filter((r) => r.pareto).length} on the Pareto frontier → ${flags.out}\n`,
    );
  }
}

async function compareCommand(flags: Flags, positionals: readonly string[], io: Io) {
  const lists = { ...flags, mesh: undefined, layout: undefined };
  const model = await modelFromFlags(lists, positionals);
  const meshes =
    flags.mesh === undefined
      ? STUDY_SHAPES.map((s) => mesh(derate(CHIPS.v5e, efficiencyFromFlags(flags)), s))
      : flags.mesh.split(",").map((t) => parseMesh(t, efficiencyFromFlags(flags)));
  if (model.kind === "file") {
    // A model file carries its own shardings: compare it across meshes.
    const rows = runFileSweep(model, meshes, {});
    if (flags.json) {
      write(flags, io, `${JSON.stringify({ model: model.name, rows }, null, 2)}\n`);
      return;
    }
    const header = ["mesh", "chips", "step", "serial", "bound", "mem/chip", "tokens/s/chip"];
    const cells = rows.map((r) =>
      r.stepS === null
        ? [r.mesh, String(r.chips), "n/a", "", "", "", ""]
        : [
            r.mesh,
            String(r.chips),
            formatTime(r.stepS),
            formatTime(r.serialS!),
            r.bound ?? "",
            `${formatBytes(r.memoryBytes!)}${r.fits ? "" : " (over)"}`,
            rate(r.tokensPerSPerChip!),
          ],
    );
    const notes = rows.filter((r) => r.error).map((r) => `${r.mesh}: ${r.error}`);
    write(
      flags,
      io,
      `${describeModel(model)}\nper chip, one step\n\n${table(header, cells, ["left", "left", "right", "right", "left", "right", "right"])}\n${notes.length ? `\n${notes.join("\n")}\n` : ""}`,
    );
    return;
  }
  const layouts = choiceList("layout", flags.layout ?? "1d-ws,2d-ws", isLayoutName, LAYOUT_HINT);
  const engine = new StepEstimator();
  const query = stepQuery(model);
  const results = meshes.map((m) => ({
    mesh: meshText(m),
    chips: m.chips,
    layouts: layouts.map((layout) => {
      try {
        const c = engine.step(model.config, query, layout, m);
        return {
          layout,
          stepS: c.totals.stepS,
          iciS: c.totals.iciS,
          memoryBytes: c.memory.totalBytes,
          fits: c.memory.fits,
          error: null,
        };
      } catch (e) {
        if (!(e instanceof ShardcostError)) throw e;
        return { layout, stepS: null, iciS: null, memoryBytes: null, fits: null, error: e.message };
      }
    }),
  }));
  if (flags.json) {
    write(flags, io, `${JSON.stringify({ model: describeModel(model), results }, null, 2)}\n`);
    return;
  }
  const links = new Set(meshes.map((m) => linkName(m.chip)));
  const commName = links.size === 1 ? [...links][0]! : "comm";
  const header = [
    "mesh",
    "chips",
    ...layouts.flatMap((l) => [`${l} step`, commName, "mem/chip"]),
    "fastest",
  ];
  const rows = results.map((r) => {
    const ok = r.layouts.filter((l) => l.stepS !== null && l.fits);
    const best = ok.sort((a, b) => a.stepS! - b.stepS!)[0];
    return [
      r.mesh,
      String(r.chips),
      ...r.layouts.flatMap((l) =>
        l.stepS === null
          ? ["n/a", "", ""]
          : [
              formatTime(l.stepS),
              formatTime(l.iciS!),
              `${formatBytes(l.memoryBytes!)}${l.fits ? "" : " (over)"}`,
            ],
      ),
      best?.layout ?? "none fits",
    ];
  });
  const notes = results.flatMap((r) =>
    r.layouts.filter((l) => l.error).map((l) => `${r.mesh} ${l.layout}: ${l.error}`),
  );
  write(
    flags,
    io,
    `${describeModel(model)}\nper chip, step with collectives overlapped\n\n${table(
      header,
      rows,
      header.map((_, i) => (i < 2 || i === header.length - 1 ? "left" : "right")),
    )}\n${notes.length ? `\n${notes.join("\n")}\n` : ""}`,
  );
}

async function explainCommand(flags: Flags, positionals: readonly string[], io: Io) {
  const pass = flags.pass === undefined ? undefined : choice("pass", flags.pass, PASSES);
  const model = await modelFromFlags(flags, positionals);
  const m = oneMesh(flags);
  const e = estimateFull(model, m, layoutFromFlags(flags, m, model));
  const { traced, lowered } = e.compiled;
  if (pass !== undefined) {
    write(flags, io, `${e.compiled.print(pass)}\n`);
    return;
  }
  const where = (eqn: Eqn, program: Program) => formatLocation(sourceOf(program, eqn)?.location);
  const lines = [
    describeModel(model),
    `on ${meshText(m)}${e.layout ? ` · layout ${e.layout}` : ""}`,
    ...(e.report.layout
      ? ["", "Layout, as resolved here:", ...e.report.layout.resolved.map((c) => `  ${c}`)]
      : []),
    "",
    `Traced program (${traced.eqns.length} equations, global shapes with their shardings):`,
    ...programLines(traced, (eqn) => where(eqn, traced)),
    "",
    `Lowered per-chip program (${lowered.eqns.length} equations; ${lowered.eqns.filter((q) => isCollective(q.primitive)).length} collectives):`,
  ];
  for (const eqn of lowered.eqns) {
    const src = eqn.origin ? where(eqn.origin, traced) : where(eqn, lowered);
    lines.push(`  ${printEqn(eqn)}${src ? `  @ ${src}` : ""}`);
    if (isCollective(eqn.primitive) && eqn.origin) {
      lines.push(`      caused by: ${printEqn(eqn.origin)}`);
    }
  }
  write(flags, io, `${lines.join("\n")}\n`);
}

function programLines(p: Program, where: (eqn: Eqn) => string): string[] {
  const lines = [`  inputs: ${p.inputs.map((i) => `${i.path}=${i.var.name}`).join(" ")}`];
  for (const eqn of p.eqns) {
    const src = where(eqn);
    lines.push(`  ${printEqn(eqn)}${src ? `  @ ${src}` : ""}`);
  }
  lines.push(`  outputs: ${p.outputs.map((o) => `${o.path}=${o.var.name}`).join(" ")}`);
  return lines;
}

async function reportCommand(flags: Flags, positionals: readonly string[], io: Io) {
  const out = flags.out ?? "shardcost-report.html";
  const model = await modelFromFlags(flags, positionals);
  const m = oneMesh(flags);
  const e = estimateModel(model, m, layoutFromFlags(flags, m, model), undefined, {
    full: flags.full === true,
  });
  // A built-in model gets a plan section: every slice of its chip at its KV length.
  const planQuery =
    model.kind === "builtin"
      ? {
          efficiency: efficiencyFromFlags(flags),
          config: model.config,
          modelFlag: flags.model ?? model.name,
          chip: chipKey(m.chip),
          layout: typeof e.layout === "string" ? e.layout : "1d-ws",
          context: model.seq,
          prompt: 1024,
          output: 256,
          weights: model.weights,
          kv: model.kv,
          compute: model.compute,
          attention: model.attention,
        }
      : undefined;
  const sweep = reportData(e, intList("batch", "1..512"), planQuery);
  let data = sweep;
  if (flags.search) {
    if (model.kind !== "builtin") {
      throw new UsageError(
        "--search in a report applies to built-in models (search model.ts for a file)",
      );
    }
    const search = await runSearch({
      config: model.config,
      modelName: model.name,
      query: stepQuery(model),
      mesh: m,
      meshText: meshText(m),
      objective: "step",
      batches: [model.batch],
      budgetS: flags.budget === undefined ? 60 : duration("budget", flags.budget),
      workers: availableParallelism(),
    });
    data = { ...sweep, search };
  }
  writeOut(out, reportHtml(data, { version: version(), command: commandLine }));
  io.err(`wrote ${out} (${data.batches.length} batch sizes, ${e.report.ops.length} op rows)\n`);
}

async function traceCommand(flags: Flags, positionals: readonly string[], io: Io) {
  const out = flags.out ?? "shardcost-trace.json";
  const model = await modelFromFlags(flags, positionals);
  const m = oneMesh(flags);
  const e = estimateFull(model, m, layoutFromFlags(flags, m, model));
  const t = chromeTrace(e);
  writeOut(out, `${JSON.stringify(t)}\n`);
  io.err(
    `wrote ${out}: ${t.traceEvents.filter((x) => x.ph === "X").length} slices, the step serial ` +
      `(${formatTime(e.report.time.serialS)}) and with collectives overlapped ` +
      `(${formatTime(e.report.time.stepS)}); open it in ui.perfetto.dev\n`,
  );
}

type Command = keyof typeof COMMANDS;

const COMMANDS = {
  estimate: estimateCommand,
  sweep: sweepCommand,
  compare: compareCommand,
  explain: explainCommand,
  report: reportCommand,
  trace: traceCommand,
  plan: planCommand,
  search: searchCommand,
} as const;

async function searchCommand(flags: Flags, positionals: readonly string[], io: Io) {
  if (flags.merge !== undefined) {
    const merged = mergeSearches(flags.merge.split(",").map((f) => f.trim()));
    if (flags.save !== undefined) {
      const best = merged.runs.find((r) => r.batch === merged.chosenBatch)?.best;
      if (!best?.point)
        throw new ShardcostError("input", "the merged best is a named layout: use --layout");
      writeOut(flags.save, mergedLayoutFile(merged, best));
      io.err(`wrote ${flags.save} (use it with estimate --layout ${flags.save})\n`);
    }
    write(
      flags,
      io,
      flags.json ? `${JSON.stringify(merged, null, 2)}\n` : `${formatMerged(merged)}\n`,
    );
    return;
  }
  if (positionals.length > 0) {
    await searchFile(flags, positionals, io);
    return;
  }
  if (flags.model === undefined) {
    throw new UsageError(
      "search takes a built-in model (--model llama3-70b, or PATH/config.json) or a model file " +
        "that declares roles",
    );
  }
  if (flags.layout !== undefined) {
    throw new UsageError(
      "search finds the layout: drop --layout (compare it with estimate --layout)",
    );
  }
  const objective =
    flags.objective === undefined ? "step" : choice("objective", flags.objective, OBJECTIVES);
  const latencyS =
    flags["latency-ms"] === undefined
      ? undefined
      : positiveNumber("latency-ms", flags["latency-ms"], "milliseconds") / 1000;
  const batches = objective === "step" ? undefined : intList("batch", flags.batch ?? "1..512");
  if (objective === "step" && flags.batch?.match(/[,.]/)) {
    throw new UsageError(
      "--batch takes one size for --objective step (lists are for throughput and pareto)",
    );
  }
  const model = await modelFromFlags({ ...flags, batch: batches ? undefined : flags.batch }, []);
  if (model.kind !== "builtin") throw new UsageError("search takes a built-in model");
  const m = oneMesh(flags);
  const answer = await runSearch({
    config: model.config,
    modelName: model.name,
    query: stepQuery(model),
    mesh: m,
    meshText: meshText(m),
    objective,
    batches: batches ?? [model.batch],
    ...(latencyS !== undefined ? { latencyS } : {}),
    budgetS: flags.budget === undefined ? 60 : duration("budget", flags.budget),
    workers:
      flags.workers === undefined ? availableParallelism() : positiveInt("workers", flags.workers),
    ...(flags.part === undefined ? {} : { part: partFlag(flags.part) }),
  });
  if (flags.save !== undefined) {
    const best = answer.chosen?.result.best;
    if (!best?.point) {
      if (best?.preset !== "fsdp") throw new ShardcostError("input", "no layout was found to save");
      throw new ShardcostError(
        "input",
        "the best layout is fsdp, a named layout: use --layout fsdp rather than a file",
      );
    }
    writeOut(
      flags.save,
      layoutFileText(best.point, best.layout, model.config, {
        model: model.name,
        mesh: meshText(m),
        step: chosenStep(answer),
      }),
    );
    io.err(`wrote ${flags.save} (use it with estimate --layout ${flags.save})\n`);
  }
  write(
    flags,
    io,
    flags.json ? `${JSON.stringify(searchJson(answer), null, 2)}\n` : `${formatSearch(answer)}\n`,
  );
}

/** `search model.ts`: the shardings of the roles a model file declares. */
async function searchFile(flags: Flags, positionals: readonly string[], io: Io) {
  for (const f of ["objective", "workers", "latency-ms"] as const) {
    if (flags[f] !== undefined) {
      throw new UsageError(
        `--${f} applies to built-in models; a model file's search minimises its step`,
      );
    }
  }
  const model = await modelFromFlags(flags, positionals);
  if (model.kind !== "file") throw new UsageError("give a model file or --model, not both");
  const roles = model.module.roles;
  if (roles === undefined || roles.length === 0) {
    throw new ShardcostError(
      "input",
      `${model.name} declares no roles to search: export const roles = ["w1", "w2"] (inputs ` +
        "whose shardings search may choose), or model({ inputs, dims, roles }, fn)",
    );
  }
  const m = oneMesh(flags);
  const roleModel = {
    fn: model.module.fn as RoleModel["fn"],
    inputs: model.module.inputs as RoleModel["inputs"],
    dims: model.dims,
  };
  const res = searchRoles(roleModel, roles, m, {
    budget: { seconds: flags.budget === undefined ? 60 : duration("budget", flags.budget) },
  });
  if (!res.best) {
    throw new ShardcostError(
      "sharding",
      `no sharding of ${roles.join(", ")} lowers on ${meshText(m)}: the first failed with: ` +
        `${res.firstRejection ?? "no layout was tried"}`,
    );
  }
  if (flags.save !== undefined) {
    writeOut(flags.save, rolesFileText(model.name, meshText(m), res.best.roles));
    io.err(`wrote ${flags.save} (use it with estimate ${model.name} --layout ${flags.save})\n`);
  }
  write(
    flags,
    io,
    flags.json
      ? `${JSON.stringify(roleSearchJson(model.name, meshText(m), res), null, 2)}\n`
      : `${formatRoleSearch(model.name, meshText(m), m, roleModel, roles, res)}\n`,
  );
}

async function planCommand(flags: Flags, positionals: readonly string[], io: Io) {
  if (positionals.length > 0 || flags.model === undefined) {
    throw new UsageError("plan takes a built-in model: --model llama3-70b (or PATH/config.json)");
  }
  for (const f of ["mesh", "seq", "phase"] as const) {
    if (flags[f] !== undefined) {
      throw new UsageError(
        `--${f} does not apply to plan: it tries every slice of --chip, sizes the KV cache by ` +
          "--context and runs prefill (--prompt) and decode (--output)",
      );
    }
  }
  const context = flags.context === undefined ? 8192 : positiveInt("context", flags.context);
  const model = await modelFromFlags({ ...flags, seq: String(context), batch: undefined }, []);
  if (model.kind !== "builtin") throw new UsageError("plan takes a built-in model");
  const chip = flags.chip ?? "v5e";
  if (!Object.hasOwn(CHIPS, chip)) {
    throw new UsageError(`--chip ${JSON.stringify(chip)}: one of ${Object.keys(CHIPS).join(", ")}`);
  }
  const latency = flags["latency-ms"];
  const latencyS =
    latency === undefined ? undefined : positiveNumber("latency-ms", latency, "milliseconds") / 1e3;
  const floor = flags["min-throughput"];
  let minTokensPerSPerChip: number | undefined;
  if (floor !== undefined) {
    minTokensPerSPerChip = positiveNumber("min-throughput", floor, "tokens/s per chip");
    if (latency !== undefined || flags.batch !== undefined) {
      throw new UsageError(
        "--min-throughput picks the batch: give it, --latency-ms or --batch, one of them",
      );
    }
  }
  const p = plan({
    efficiency: efficiencyFromFlags(flags),
    config: model.config,
    modelFlag: flags.model,
    chip,
    layout:
      flags.layout === undefined
        ? "1d-ws"
        : choice("layout", flags.layout, isLayoutName, LAYOUT_HINT),
    context,
    prompt: flags.prompt === undefined ? 1024 : positiveInt("prompt", flags.prompt),
    output: flags.output === undefined ? 256 : positiveInt("output", flags.output),
    weights: model.weights,
    kv: model.kv,
    compute: model.compute,
    attention: model.attention,
    ...(flags.batch !== undefined ? { batch: positiveInt("batch", flags.batch) } : {}),
    ...(latencyS !== undefined ? { latencyS } : {}),
    ...(minTokensPerSPerChip !== undefined ? { minTokensPerSPerChip } : {}),
  });
  write(
    flags,
    io,
    flags.json
      ? `${JSON.stringify(p, null, 2)}\n`
      : `${formatPlan(p, flags["show-commands"] === true)}\n`,
  );
}

const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
