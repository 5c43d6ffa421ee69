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
  readonly timeS: number;
}

function groupOf(o: OpEstimate): OpGroup {
  return {
    first: o,
    count: 1,
    flops: o.flops,
    hbmBytes: o.hbmBytes,
    iciBytes: o.iciBytes,
    timeS: o.timeS,
  };
}

/**
 * The kernels that are the same op on the same types from the same source line (the same
 * layer repeated L times), merged into one group each, in order of first appearance.
 */
export function groupOps(ops: readonly OpEstimate[]): OpGroup[] {
  const byKey = new Map<string, OpGroup>();
  for (const o of ops) {
    const key = `${o.label}|${o.fused.join(",")}|${o.resultType}|${formatLocation(o.source?.location)}`;
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
            timeS: r.timeS + o.timeS,
          }
        : groupOf(o),
    );
  }
  return [...byKey.values()];
}

function cells(r: OpGroup, aggregate: boolean, est: Estimate): string[] {
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
  const all = aggregate ? groupOps(est.ops) : est.ops.map(groupOf);
  const byTime = [...all].sort((a, b) => b.timeS - a.timeS || a.first.group - b.first.group);
  const shown = new Set(options.top === undefined ? all : byTime.slice(0, options.top));
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
    `total (${est.ops.length} kernels)`,
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

/** Memory against capacity, with the verdict and by how much it misses. */
export function formatMemory(est: Estimate): string {
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
export function formatTotals(est: Estimate): string {
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
      ? `step ${formatTime(t.serialS)} serial, ${formatTime(t.overlappedS)} with collectives ` +
          `overlapped (${boundName(est, t.bound)}-bound)`
      : `roofline step ${formatTime(t.timeS)} (${boundName(est, t.bound)}-bound)`,
  );
  return lines.join("\n");
}

/** What binds, in the chip's words: "ici" is "NVLink/network" on a GPU. */
function boundName(est: Estimate, bound: string): string {
  return bound === "ici" ? linkName(est.chip) : bound;
}
