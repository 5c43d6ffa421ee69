// A model file's run, in a worker thread started by `run` (which enforces its time and heap).
import { parentPort, workerData } from "node:worker_threads";
import { expectCompile } from "./model-compile.js";
import type { WorkerInput, WorkerMessage } from "./run.js";

const input = workerData as WorkerInput;
// The model file as the main thread looked it up, and its compile if it started one while this
// thread loads the library.
if (input.model) expectCompile(input.model, parentPort!);
const { main } = await import("./main.js");
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
// The model file's own logging goes to stderr, so stdout (a JSON report, a CSV) stays clean.
console.log = console.error;
console.info = console.error;
const status = await main(input.argv, {
  out: (text) => post({ kind: "out", text }),
  err: (text) => post({ kind: "err", text }),
  isTTY: input.isTTY,
});
post({ kind: "done", status });
