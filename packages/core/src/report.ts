import type { Estimate, OpEstimate } from "./estimate.js";
import { formatBytes, formatFlops, formatTime, table } from "./format.js";
import { formatLocation } from "./source.js";

export interface ReportOptions {
  /** Show only the `top` most expensive ops (by time); the rest are summed in one row. */
  readonly top?: number;
}

function opRow(o: OpEstimate): string[] {
  const fused = o.fused.length > 0 ? ` +${o.fused.length}` : "";
  return [
    String(o.group),
    `${o.label}${fused}`,
    o.result,
    formatLocation(o.source?.location),
    formatFlops(o.flops),
    formatBytes(o.hbmBytes),
    formatTime(o.timeS),
    o.bound,
  ];
}

/** The per-op table with totals, as printed by `npm start` and the CLI. */
export function formatOpTable(est: Estimate, options: ReportOptions = {}): string {
  const byTime = [...est.ops].sort((a, b) => b.timeS - a.timeS || a.group - b.group);
  const shown = options.top === undefined ? est.ops : byTime.slice(0, options.top);
  const shownSet = new Set(shown);
  const ordered = est.ops.filter((o) => shownSet.has(o));
  const rest = est.ops.filter((o) => !shownSet.has(o));
  const rows = ordered.map(opRow);
  if (rest.length > 0) {
    const s = (f: (o: OpEstimate) => number) => rest.reduce((a, o) => a + f(o), 0);
    rows.push([
      "",
      `… ${rest.length} more ops`,
      "",
      "",
      formatFlops(s((o) => o.flops)),
      formatBytes(s((o) => o.hbmBytes)),
      formatTime(s((o) => o.timeS)),
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
    formatTime(t.timeS),
    t.bound,
  ]);
  return table(["#", "op", "result", "source", "FLOPs", "HBM", "time", "bound"], rows, [
    "right",
    "left",
    "left",
    "left",
    "right",
    "right",
    "right",
    "left",
  ]);
}

/** Memory against capacity, with the verdict and by how much it misses. */
export function formatMemory(est: Estimate): string {
  const m = est.memory;
  const verdict = m.fits
    ? `fits: ${formatBytes(m.headroomBytes)} to spare`
    : `DOES NOT FIT: needs ${formatBytes(m.totalBytes)}, ${formatBytes(-m.headroomBytes)} ` +
      `(${((m.totalBytes / m.capacityBytes) * 100).toFixed(0)}% of capacity) more than the ` +
      `${formatBytes(m.capacityBytes)} of one ${est.chip.name}`;
  return [
    `parameters   ${formatBytes(m.paramBytes)}`,
    `KV caches    ${formatBytes(m.cacheBytes)}`,
    `activations  ${formatBytes(m.activationBytes)} (peak live)`,
    `total        ${formatBytes(m.totalBytes)} of ${formatBytes(m.capacityBytes)} HBM — ${verdict}`,
  ].join("\n");
}

export function formatTotals(est: Estimate): string {
  const t = est.totals;
  return [
    `FLOPs ${formatFlops(t.flops)} · HBM ${formatBytes(t.hbmBytes)}`,
    `compute ${formatTime(t.computeS)} · HBM ${formatTime(t.hbmS)} · ` +
      `roofline step ${formatTime(t.timeS)} (${t.bound}-bound)`,
  ].join("\n");
}
