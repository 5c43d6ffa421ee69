import type { Estimate } from "./estimate.js";
import { formatBytes, formatCapacity, formatFlops, formatTime, table } from "./format.js";
import { linkName } from "./hardware.js";
import type { OpEstimate } from "./kernel-cost.js";
import { formatLocation } from "./source.js";

/** How `formatOpTable` shows kernels: how many rows, merged or not. */
export interface ReportOptions {
  /** Show only the `top` most expensive rows (by time); the rest are summed in one row. */
  readonly top?: number;
  /**
   * Merge kernels that are the same op on the same types from the same source line (the same
   * layer repeated L times) into one row with a count.
   */
  readonly aggregate?: boolean;
}

/** Kernels merged by op, fused ops, result type and source line, with their sums. */
export interface OpGroup {
  /** The first kernel of the group (its label, types, source and bound stand for all). */
  readonly first: OpEstimate;
  readonly count: number;
  readonly flops: number;
  readonly hbmBytes: number;
  readonly iciBytes: number;
  /** Interconnect time of the collectives among them. */
  readonly iciS: number;
  readonly timeS: number;
}

function groupOf(o: OpEstimate): OpGroup {
  return {
    first: o,
    count: 1,
    flops: o.flops,
    hbmBytes: o.hbmBytes,
    iciBytes: o.iciBytes,
    iciS: o.iciS,
    timeS: o.timeS,
  };
}

/** What kernels share a group by: op, fused ops, result type and source line. */
export function groupKey(o: OpEstimate): string {
  return `${o.label}|${o.fused.join(",")}|${o.resultType}|${formatLocation(o.source?.location)}`;
}

/** A step's figures as reports show them: totals, memory, and kernels merged into groups. */
export interface GroupedEstimate extends Pick<Estimate, "chip" | "totals" | "memory"> {
  /** Kernels merged by `groupKey`, in order of first appearance. */
  readonly groups: readonly OpGroup[];
  /** How many kernels the step runs. */
  readonly kernels: number;
}

/** An estimate with its kernels merged into groups (`groupOps`). */
export function groupEstimate(est: Estimate): GroupedEstimate {
  return {
    chip: est.chip,
    totals: est.totals,
    memory: est.memory,
    groups: groupOps(est.ops),
    kernels: est.ops.length,
  };
}

/**
 * The kernels that are the same op on the same types from the same source line (the same
 * layer repeated L times), merged into one group each, in order of first appearance.
 */
export function groupOps(ops: readonly OpEstimate[]): OpGroup[] {
  const byKey = new Map<string, OpGroup>();
  for (const o of ops) {
    const key = groupKey(o);
    const r = byKey.get(key);
    byKey.set(
      key,
      r
        ? {
            first: r.first,
            count: r.count + 1,
            flops: r.flops + o.flops,
            hbmBytes: r.hbmBytes + o.hbmBytes,
            iciBytes: r.iciBytes + o.iciBytes,
            iciS: r.iciS + o.iciS,
            timeS: r.timeS + o.timeS,
          }
        : groupOf(o),
    );
  }
  return [...byKey.values()];
}

function cells(r: OpGroup, aggregate: boolean, est: StepView): string[] {
  const o = r.first;
  const fused = o.fused.length > 0 ? ` +${o.fused.length}` : "";
  return [
    aggregate ? `×${r.count}` : String(o.group),
    `${o.label}${fused}`,
    aggregate ? o.resultType : o.result,
    formatLocation(o.source?.location),
    formatFlops(r.flops),
    formatBytes(r.hbmBytes),
    r.iciBytes > 0 ? formatBytes(r.iciBytes) : "",
    formatTime(r.timeS),
    boundName(est, o.bound),
  ];
}

/** The per-op table with totals, as printed by `npm start` and the CLI. */
export function formatOpTable(est: Estimate, options: ReportOptions = {}): string {
  const aggregate = options.aggregate ?? false;
  if (aggregate) return formatGroupTable(groupEstimate(est), options.top);
  return opTable(est, est.ops.map(groupOf), est.ops.length, false, options.top);
}

/** The per-op table of a grouped estimate: one row a group, the `top` slowest in program order. */
export function formatGroupTable(est: GroupedEstimate, top?: number): string {
  return opTable(est, est.groups, est.kernels, true, top);
}

function opTable(
  est: StepView,
  all: readonly OpGroup[],
  kernels: number,
  aggregate: boolean,
  top: number | undefined,
): string {
  const byTime = [...all].sort((a, b) => b.timeS - a.timeS || a.first.group - b.first.group);
  const shown = new Set(top === undefined ? all : byTime.slice(0, top));
  const rows = all.filter((r) => shown.has(r)).map((r) => cells(r, aggregate, est));
  const rest = all.filter((r) => !shown.has(r));
  if (rest.length > 0) {
    const s = (f: (r: OpGroup) => number) => rest.reduce((a, r) => a + f(r), 0);
    rows.push([
      "",
      `… ${s((r) => r.count)} more kernels`,
      "",
      "",
      formatFlops(s((r) => r.flops)),
      formatBytes(s((r) => r.hbmBytes)),
      formatBytes(s((r) => r.iciBytes)),
      formatTime(s((r) => r.timeS)),
      "",
    ]);
  }
  const t = est.totals;
  rows.push([
    "",
    `total (${kernels} kernels)`,
    "",
    "",
    formatFlops(t.flops),
    formatBytes(t.hbmBytes),
    formatBytes(t.iciBytes),
    formatTime(t.timeS),
    boundName(est, t.bound),
  ]);
  return table(
    [
      aggregate ? "count" : "#",
      "op",
      "result",
      "source",
      "FLOPs",
      "HBM",
      `${linkName(est.chip)} sent`,
      "time",
      "bound",
    ],
    rows,
    ["right", "left", "left", "left", "right", "right", "right", "right", "left"],
  );
}

/** What the totals and memory lines need of an estimate. */
export type StepView = Pick<Estimate, "chip" | "totals" | "memory">;

/** Memory against capacity, with the verdict and by how much it misses. */
export function formatMemory(est: StepView): string {
  const m = est.memory;
  const verdict = m.fits
    ? `fits, ${formatBytes(m.headroomBytes)} to spare`
    : `DOES NOT FIT: ${formatBytes(-m.headroomBytes)} over ` +
      `(${(m.totalBytes / m.capacityBytes).toFixed(1)}× the HBM of one ${est.chip.name})`;
  return [
    `parameters   ${formatBytes(m.paramBytes)}`,
    `KV caches    ${formatBytes(m.cacheBytes)}`,
    `activations  ${formatBytes(m.activationBytes)} (peak live)`,
    `total        ${formatBytes(m.totalBytes)} of ${formatCapacity(m.capacityBytes)} HBM — ${verdict}`,
  ].join("\n");
}

/** Step totals per chip: work, traffic, their times, and the step serial and overlapped. */
export function formatTotals(est: StepView): string {
  const t = est.totals;
  const link = linkName(est.chip);
  const lines = [
    `FLOPs ${formatFlops(t.flops)} · HBM ${formatBytes(t.hbmBytes)}` +
      (t.iciBytes > 0 ? ` · ${link} ${formatBytes(t.iciBytes)} sent` : ""),
    `compute ${formatTime(t.computeS)} · HBM ${formatTime(t.hbmS)}` +
      (t.iciBytes > 0 ? ` · ${link} ${formatTime(t.iciS)}` : ""),
  ];
  lines.push(
    t.iciBytes > 0
      ? `step ${formatTime(t.stepS)} with collectives overlapped (${formatTime(t.serialS)} serial, ` +
          `with none) · ${boundName(est, t.bound)}-bound`
      : `roofline step ${formatTime(t.timeS)} (${boundName(est, t.bound)}-bound)`,
  );
  return lines.join("\n");
}

/** What binds, in the chip's words: "ici" is "NVLink/network" on a GPU. */
function boundName(est: StepView, bound: string): string {
  return bound === "ici" ? linkName(est.chip) : bound;
}
