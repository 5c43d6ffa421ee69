// A layout search's worker thread: costs the layouts it is sent, for one model and mesh.
import { parentPort, workerData } from "node:worker_threads";
import type { LlamaConfig } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import { StepEstimator } from "../engine.js";
import type { ResolvedLayout } from "../layouts/axes.js";
import type { StepQuery } from "../step.js";
import { evaluateOne } from "./search.js";

const { config, mesh } = workerData as { config: LlamaConfig; mesh: Mesh };
const engine = new StepEstimator();
parentPort!.on("message", (m: { id: number; query: StepQuery; layouts: ResolvedLayout[] }) => {
  const results = m.layouts.map((l) => evaluateOne(engine, config, m.query, l, mesh));
  parentPort!.postMessage({ id: m.id, results });
});
