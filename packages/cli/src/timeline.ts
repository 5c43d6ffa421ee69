import { formatLocation, linkName } from "@shardcost/core";
import type { FullEstimate } from "./report.js";

interface TraceEvent {
  readonly name: string;
  readonly ph: "X" | "M";
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly args?: Record<string, unknown>;
}

/**
 * A simulated step as a Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev): kernels on
 * a compute track and collectives on an ICI track, one after another as the serial step runs
 * them. Every chip of an SPMD program runs the same kernels, so one process stands for the
 * group of all chips. Times in µs, on whole nanoseconds.
 */
export function chromeTrace(e: FullEstimate): { traceEvents: TraceEvent[]; displayTimeUnit: "ns" } {
  const chips = e.mesh.chips;
  const group =
    chips === 1 ? "chip 0" : `chips 0–${chips - 1} (${e.mesh.chip.name}, SPMD: identical)`;
  const events: TraceEvent[] = [
    { name: "process_name", ph: "M", pid: 0, tid: 0, args: { name: group } },
    { name: "thread_name", ph: "M", pid: 0, tid: 0, args: { name: "compute (HBM + MXU)" } },
    { name: "thread_name", ph: "M", pid: 0, tid: 1, args: { name: linkName(e.mesh.chip) } },
  ];
  // Whole nanoseconds: each slice starts where the last one's rounded end is, so no two
  // overlap (Perfetto drops a slice that overlaps its neighbour by even a rounding error).
  let seconds = 0;
  let startNs = 0;
  for (const o of e.compiled.estimate.ops) {
    seconds += o.timeS;
    const endNs = Math.round(seconds * 1e9);
    const ici = o.iciS > 0 || o.iciBytes > 0;
    events.push({
      name: o.label,
      ph: "X",
      pid: 0,
      tid: ici ? 1 : 0,
      ts: startNs / 1000,
      dur: (endNs - startNs) / 1000,
      cat: ici ? "collective" : "kernel",
      args: {
        result: o.result,
        source: formatLocation(o.source?.location),
        fused: o.fused.join(", "),
        flops: o.flops,
        hbmBytes: o.hbmBytes,
        iciBytes: o.iciBytes,
        bound: o.bound,
      },
    });
    startNs = endNs;
  }
  return { traceEvents: events, displayTimeUnit: "ns" };
}
