import { Graph } from "@dagrejs/graphlib";
import type { Fusion } from "./fusion.js";
import { eqnNode, programGraph } from "./graph.js";
import type { Program } from "./ir.js";
import { printOp, printType } from "./printer.js";

/** A graphlib view of the fused schedule: one node per kernel, an edge where data flows. */
export function fusionGraph(program: Program, fusion: Fusion): Graph {
  const g = new Graph({ directed: true });
  const pg = programGraph(program);
  for (const group of fusion.groups) g.setNode(`g${group.id}`, group);
  for (const group of fusion.groups) {
    for (const i of group.eqns) {
      for (const a of program.eqns[i]!.inputs) {
        if (a.kind !== "var") continue;
        const p = pg.producer[a.id]!;
        if (p < 0) continue;
        for (const from of fusion.groupsOf[p]!) {
          if (from !== group.id) g.setEdge(`g${from}`, `g${group.id}`);
        }
      }
    }
  }
  return g;
}

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * Graphviz DOT of a program: one node per equation labelled in notation, edges for data flow,
 * and (given a fusion) one cluster per kernel.
 */
export function toDot(program: Program, fusion?: Fusion): string {
  const { graph } = programGraph(program);
  const lines = ["digraph program {", "  node [shape=box, fontname=monospace];"];
  const label = (i: number) => {
    const e = program.eqns[i]!;
    return `${printOp(e)}\\n${e.outputs.map((v) => `${v.name}:${printType(v.aval)}`).join(" ")}`;
  };
  if (fusion) {
    for (const group of fusion.groups) {
      lines.push(`  subgraph cluster_${group.id} {`, `    label=${quote(`kernel ${group.id}`)};`);
      for (const i of group.eqns) {
        if (fusion.groupsOf[i]![0] === group.id)
          lines.push(`    ${eqnNode(i)} [label=${quote(label(i))}];`);
      }
      lines.push("  }");
    }
  } else {
    for (const n of graph.nodes())
      lines.push(`  ${n} [label=${quote(label(graph.node(n) as number))}];`);
  }
  for (const e of graph.edges()) lines.push(`  ${e.v} -> ${e.w};`);
  lines.push("}");
  return lines.join("\n");
}
