import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import type { Io } from "./main.js";
import { type Handoff, prepareCompile } from "./model-compile.js";

/** Seconds a model file's run may take unless `--timeout` says otherwise. */
export const DEFAULT_TIMEOUT_S = 60;
/** Heap a model file's run may use; past it the run stops with a typed error. */
export const MODEL_HEAP_MB = 4096;

/** What the worker sends back: output, or its exit status. */
export type WorkerMessage =
  | { readonly kind: "out"; readonly text: string }
  | { readonly kind: "err"; readonly text: string }
  | { readonly kind: "done"; readonly status: number };

/** The data a model-file worker starts with. */
export interface WorkerInput {
  readonly argv: readonly string[];
  readonly isTTY: boolean;
  /** Where the compiled model file goes; removed by the parent however the worker ends. */
  readonly tmp: string;
  /** The model file as this thread looked it up, and started compiling (result posted later). */
  readonly model?: Handoff;
}

const MODEL_FILE = /\.(ts|mts|cts|tsx)$/;

/** The positional that names a model file, if any (a flag's value is not one). */
export function modelFileArg(argv: readonly string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("-")) {
      // `--flag value`: skip the value (booleans take none).
      if (!a.includes("=") && !/^--(json|help|version|show-commands|full)$|^-h$/.test(a)) i++;
      continue;
    }
    if (MODEL_FILE.test(a)) return a;
  }
  return undefined;
}

/** `--timeout SECONDS` as given, or the default (a malformed value is main's usage error). */
function timeoutOf(argv: readonly string[]): number {
  const i = argv.findIndex((a) => a === "--timeout" || a.startsWith("--timeout="));
  if (i < 0) return DEFAULT_TIMEOUT_S;
  const text = argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
  const s = Number(text);
  return Number.isFinite(s) && s > 0 ? s : DEFAULT_TIMEOUT_S;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
};

/**
 * The CLI as the `shardcost` bin runs it. A model file is code: it runs in a worker thread with
 * a time limit (`--timeout`, default 60 s) and a heap limit, so an endless loop or a runaway
 * model ends in a typed error naming the file rather than a hang or a V8 crash; built-in models
 * run in this thread.
 */
export async function run(argv: readonly string[], io: Io = stdio): Promise<number> {
  const file = modelFileArg(argv);
  // The library is loaded only where it runs: here for built-in models, in the worker for files.
  if (file === undefined) return (await import("./main.js")).main(argv, io);
  const seconds = timeoutOf(argv);
  const tmp = mkdtempSync(join(tmpdir(), "shardcost-model-"));
  // The file is looked up in the cache here, and one it does not hold starts compiling now,
  // beside the worker's start-up.
  const prepared = prepareCompile(resolve(file), tmp);
  const compile = prepared?.compile;
  const input: WorkerInput = {
    argv,
    isTTY: io.isTTY,
    tmp,
    ...(prepared
      ? { model: { plan: prepared.plan, ...(compile ? { out: compile.out } : {}) } }
      : {}),
  };
  const worker = new Worker(new URL("./worker.js", import.meta.url), {
    workerData: input,
    resourceLimits: { maxOldGenerationSizeMb: MODEL_HEAP_MB },
    stdout: false,
    stderr: false,
  });
  void compile?.result.then((compiled) => worker.postMessage({ compiled }));
  const started = Date.now();
  let ticker: NodeJS.Timeout | undefined;
  if (io.isTTY) {
    ticker = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      io.err(`\rshardcost: running ${file}… ${s} s (of ${seconds} s)`);
    }, 1000);
  }
  const clearTicker = () => {
    if (ticker === undefined) return;
    clearInterval(ticker);
    ticker = undefined;
    io.err("\r\x1b[K");
  };
  try {
    return await new Promise<number>((resolve) => {
      let status: number | undefined;
      const timer = setTimeout(() => {
        clearTicker();
        io.err(
          `shardcost: error[timeout]: model file ${file} did not finish within ${seconds} s ` +
            "(an endless loop, or a model too large to trace?); --timeout SECONDS allows more\n",
        );
        status = 1;
        void worker.terminate();
      }, seconds * 1000);
      worker.on("message", (m: WorkerMessage) => {
        if (m.kind === "done") {
          status ??= m.status;
          return;
        }
        if (m.kind === "out") io.out(m.text);
        else {
          clearTicker();
          io.err(m.text);
        }
      });
      worker.on("error", (e: Error & { code?: string }) => {
        clearTicker();
        if (status !== undefined) return;
        const why =
          e.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? `ran out of memory (more than ${MODEL_HEAP_MB / 1024} GB of heap) — is the model ` +
              "larger than intended, or a loop unbounded?"
            : `stopped: ${e.message}`;
        io.err(`shardcost: error[resource]: model file ${file} ${why}\n`);
        status = 1;
      });
      worker.on("exit", () => {
        clearTimeout(timer);
        clearTicker();
        resolve(status ?? 1);
      });
    });
  } finally {
    compile?.cancel();
    rmSync(tmp, { recursive: true, force: true });
  }
}
