import type { Estimate, OpEstimate } from "./estimate.js";
import { formatBytes, formatFlops, formatTime, table } from "./format.js";
import { formatLocation } from "./source.js";

export interface ReportOptions {
  /** Show only the `top` most expensive rows (by time); the rest are summed in one row. */
  readonly top?: number;
  /**
   * Merge kernels that are the same op on the same types from the same source line (the same
   * layer repeated L times) into one row with a count.
   */
  readonly aggregate?: boolean;
}

interface Row {
  readonly first: OpEstimate;
  readonly count: number;
  readonly flops: number;
  readonly hbmBytes: number;
  readonly timeS: number;
}

function rowsOf(ops: readonly OpEstimate[], aggregate: boolean): Row[] {
  if (!aggregate) {
    return ops.map((o) => ({
      first: o,
      count: 1,
      flops: o.flops,
      hbmBytes: o.hbmBytes,
      timeS: o.timeS,
    }));
  }
  const byKey = new Map<
    string,
    { first: OpEstimate; count: number; flops: number; hbmBytes: number; timeS: number }
  >();
  for (const o of ops) {
    const key = `${o.label}|${o.fused.join(",")}|${o.resultType}|${formatLocation(o.source?.location)}`;
    const r = byKey.get(key);
    if (r) {
      r.count++;
      r.flops += o.flops;
      r.hbmBytes += o.hbmBytes;
      r.timeS += o.timeS;
    } else {
      byKey.set(key, { first: o, count: 1, flops: o.flops, hbmBytes: o.hbmBytes, timeS: o.timeS });
    }
  }
  return [...byKey.values()];
}

function cells(r: Row, aggregate: boolean): string[] {
  const o = r.first;
  const fused = o.fused.length > 0 ? ` +${o.fused.length}` : "";
  return [
    aggregate ? `×${r.count}` : String(o.group),
    `${o.label}${fused}`,
    aggregate ? o.resultType : o.result,
    formatLocation(o.source?.location),
    formatFlops(r.flops),
    formatBytes(r.hbmBytes),
    formatTime(r.timeS),
    o.bound,
  ];
}

/** The per-op table with totals, as printed by `npm start` and the CLI. */
export function formatOpTable(est: Estimate, options: ReportOptions = {}): string {
  const aggregate = options.aggregate ?? false;
  const all = rowsOf(est.ops, aggregate);
  const byTime = [...all].sort((a, b) => b.timeS - a.timeS || a.first.group - b.first.group);
  const shown = new Set(options.top === undefined ? all : byTime.slice(0, options.top));
  const rows = all.filter((r) => shown.has(r)).map((r) => cells(r, aggregate));
  const rest = all.filter((r) => !shown.has(r));
  if (rest.length > 0) {
    const s = (f: (r: Row) => number) => rest.reduce((a, r) => a + f(r), 0);
    rows.push([
      "",
      `… ${s((r) => r.count)} more kernels`,
      "",
      "",
      formatFlops(s((r) => r.flops)),
      formatBytes(s((r) => r.hbmBytes)),
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
    formatTime(t.timeS),
    t.bound,
  ]);
  return table(
    [aggregate ? "count" : "#", "op", "result", "source", "FLOPs", "HBM", "time", "bound"],
    rows,
    ["right", "left", "left", "left", "right", "right", "right", "left"],
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
