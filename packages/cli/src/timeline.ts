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
 * A simulated step as a Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev), in two
 * processes: the serial schedule (kernels and collectives one after another, on a compute and
 * an ICI track) and the overlapped one the headline step assumes (kernels back to back on the
 * compute track, collectives back to back on the ICI track, both from the start; the step ends
 * with the longer track). Every chip of an SPMD program runs the same kernels, so one process
 * stands for the group of all chips. Times in µs, on whole nanoseconds: each slice starts where
 * the previous one on its track ends, so none overlap (Perfetto drops a slice that overlaps its
 * neighbour by even a rounding error).
 */
export function chromeTrace(e: FullEstimate): { traceEvents: TraceEvent[]; displayTimeUnit: "ns" } {
  const chips = e.mesh.chips;
  const group =
    chips === 1 ? "chip 0" : `chips 0–${chips - 1} (${e.mesh.chip.name}, SPMD: identical)`;
  const link = linkName(e.mesh.chip);
  const events: TraceEvent[] = [];
  const names = ["serial: one op after another", "overlapped: collectives behind kernels"];
  names.forEach((schedule, pid) => {
    events.push(
      { name: "process_name", ph: "M", pid, tid: 0, args: { name: `${group} · ${schedule}` } },
      { name: "thread_name", ph: "M", pid, tid: 0, args: { name: "compute (HBM + MXU)" } },
      { name: "thread_name", ph: "M", pid, tid: 1, args: { name: link } },
    );
  });
  // Seconds elapsed on each track of each schedule, and where its last slice ended (in ns).
  const clock = [
    [0, 0],
    [0, 0],
  ];
  const endNs = [
    [0, 0],
    [0, 0],
  ];
  for (const o of e.compiled.estimate.ops) {
    const ici = o.iciS > 0 || o.iciBytes > 0;
    const tid = ici ? 1 : 0;
    const slice = (pid: number, startS: number) => {
      const start = Math.max(Math.round(startS * 1e9), endNs[pid]![tid]!);
      const end = Math.max(start, Math.round((startS + o.timeS) * 1e9));
      endNs[pid]![tid] = end;
      events.push({
        name: o.label,
        ph: "X",
        pid,
        tid,
        ts: start / 1000,
        dur: (end - start) / 1000,
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
    };
    // Serial: one clock for both tracks. Overlapped: each track its own clock.
    const serial = Math.max(clock[0]![0]!, clock[0]![1]!);
    slice(0, serial);
    clock[0]![0] = clock[0]![1] = serial + o.timeS;
    slice(1, clock[1]![tid]!);
    clock[1]![tid] = clock[1]![tid]! + o.timeS;
  }
  return { traceEvents: events, displayTimeUnit: "ns" };
}
