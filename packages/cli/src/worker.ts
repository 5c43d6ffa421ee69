// A model file's run, in a worker thread started by `run` (which enforces its time and heap).
import { parentPort, workerData } from "node:worker_threads";
import { main } from "./main.js";
import type { WorkerInput, WorkerMessage } from "./run.js";

const input = workerData as WorkerInput;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
process.setSourceMapsEnabled(true);
// The model file's own logging goes to stderr, so stdout (a JSON report, a CSV) stays clean.
console.log = console.error;
console.info = console.error;
const status = await main(input.argv, {
  out: (text) => post({ kind: "out", text }),
  err: (text) => post({ kind: "err", text }),
  isTTY: input.isTTY,
});
post({ kind: "done", status });
