import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { LlamaConfig } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import type { ResolvedLayout } from "../layouts/axes.js";
import type { StepCosts } from "../periodic.js";
import type { StepQuery } from "../step.js";
import { type Evaluator, localEvaluator } from "./search.js";

type Result = StepCosts | { readonly error: string };

/** Worker threads that cost layouts of one model on one mesh, and how to stop them. */
export interface WorkerEvaluator {
  /** An evaluator of layouts for one step of the model (any number, one pool). */
  readonly evaluator: (query: StepQuery) => Evaluator;
  readonly workers: number;
  /** Stops the threads (the search is done). */
  close(): Promise<void>;
}

/**
 * Costs layouts on `workers` threads (default: every core), each with its own engine kept for
 * every step asked of it (a search over several batches starts the threads once); a batch
 * is dealt out in turn and the results come back in the order asked, so a search gives the same
 * answer on any number of threads. One thread (or one core) costs in this thread.
 */
export function workerEvaluator(
  config: LlamaConfig,
  m: Mesh,
  workers = availableParallelism(),
): WorkerEvaluator {
  if (workers <= 1) {
    const local = localEvaluator(config, m);
    return { evaluator: local, workers: 1, close: async () => {} };
  }
  // From the sources (as tests run them) the built worker is used: a thread runs JavaScript.
  const url = new URL(
    import.meta.url.endsWith(".ts") ? "../../dist/search/worker.js" : "./worker.js",
    import.meta.url,
  );
  // The built worker resolves the built packages: not the sources a test runner may ask for.
  const execArgv: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i]!;
    if (a === "--conditions" || a === "-C") i++;
    else if (!a.startsWith("--conditions=")) execArgv.push(a);
  }
  const threads = Array.from(
    { length: workers },
    () => new Worker(url, { workerData: { config, mesh: m }, execArgv }),
  );
  let next = 0;
  const pending = new Map<number, { resolve: (r: Result[]) => void; reject: (e: Error) => void }>();
  let failed: Error | undefined;
  for (const t of threads) {
    t.on("message", (msg: { id: number; results: Result[] }) => {
      const waiting = pending.get(msg.id);
      pending.delete(msg.id);
      waiting?.resolve(msg.results);
    });
    t.on("error", (e) => {
      failed = e;
      for (const w of pending.values()) w.reject(e);
      pending.clear();
    });
  }
  const ask = (t: Worker, query: StepQuery, layouts: readonly ResolvedLayout[]) =>
    new Promise<Result[]>((resolve, reject) => {
      if (failed) {
        reject(failed);
        return;
      }
      const id = next++;
      pending.set(id, { resolve, reject });
      t.postMessage({ id, query, layouts });
    });
  const evaluator =
    (query: StepQuery): Evaluator =>
    async (layouts) => {
      const parts = threads.map((_, i) => layouts.filter((_l, j) => j % threads.length === i));
      const answers = await Promise.all(
        threads.map((t, i) =>
          parts[i]!.length > 0 ? ask(t, query, parts[i]!) : Promise.resolve([]),
        ),
      );
      return layouts.map((_l, j) => answers[j % threads.length]![Math.floor(j / threads.length)]!);
    };
  return {
    evaluator,
    workers,
    close: async () => {
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}
