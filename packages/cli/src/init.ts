import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ShardcostError } from "@shardcost/core";
import { packageEntries } from "./load-ts.js";

/** The starter model file: one gated MLP layer, 2D weight-stationary, as in the README. */
const MODEL = `// A shardcost model file: the forward function (default export), its inputs in the book's
// notation, and the dims. Try:
//   npx shardcost estimate model.ts --mesh v5e:2x4x4
//   npx shardcost explain model.ts --mesh v5e:2x4x4

import { type Tracer, tensor } from "@shardcost/core";
import { einsum, mul, shard, silu } from "@shardcost/ops";

export const dims = { B: 256, D: 8192, F: 28672 };

export const inputs = {
  x: tensor("x[B, D_XYZ]", "bf16"),
  gate: tensor("Wgate[D_X, F_YZ]", "int8", "param"),
  up: tensor("Wup[D_X, F_YZ]", "int8", "param"),
  down: tensor("Wdown[F_YZ, D_X]", "int8", "param"),
};

export default function mlp(t: { x: Tracer; gate: Tracer; up: Tracer; down: Tracer }) {
  const x = shard(t.x, "[B, D_X]");
  const hidden = mul(silu(einsum("BD,DF->BF", x, t.gate)), einsum("BD,DF->BF", x, t.up));
  const out = einsum("BF,FD->BD", shard(hidden, "[B, F_YZ]"), t.down);
  return { out: shard(out, "[B, D_XYZ]") };
}
`;

/**
 * Writes a starter `model.ts` and a `tsconfig.json` whose paths point `@shardcost/*` at this
 * installation's type declarations, so editors and `tsc --noEmit` check the file as the CLI
 * does. Existing files are left alone (an error names them).
 */
export function init(dir: string): string[] {
  const root = resolve(dir);
  const files = { "model.ts": MODEL, "tsconfig.json": tsconfig() };
  const taken = Object.keys(files).filter((f) => existsSync(join(root, f)));
  if (taken.length > 0) {
    throw new ShardcostError(
      "input",
      `${root} already has ${taken.join(" and ")}; init writes only new files (pick another DIR)`,
    );
  }
  mkdirSync(root, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
  return Object.keys(files).map((f) => join(root, f));
}

function tsconfig(): string {
  const paths = Object.fromEntries(
    Object.entries(packageEntries()).map(([name, e]) => [name, [e.dts]]),
  );
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      lib: ["ES2023"],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: [],
      paths,
    },
    include: ["*.ts"],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
