import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ShardcostError } from "@shardcost/core";
import { packageEntries } from "./load-ts.js";

/** The example model file the README walks through, the starter `init` copies. */
const EXAMPLE = fileURLToPath(new URL("../../../examples/models/mlp-2d.ts", import.meta.url));

/** The example with a header for a fresh directory. */
function starter(): string {
  const body = readFileSync(EXAMPLE, "utf8").replace(/^(\/\/.*\n)+\n?/, "");
  return (
    "// A shardcost model file: the forward function (default export), its inputs in the book's\n" +
    "// notation, and the dims. Try:\n" +
    "//   npx shardcost estimate model.ts --mesh v5e:2x4x4\n" +
    "//   npx shardcost explain model.ts --mesh v5e:2x4x4\n\n" +
    body
  );
}

/**
 * Writes a starter `model.ts` and a `tsconfig.json` whose paths point `@shardcost/*` at this
 * installation's type declarations, so editors and `tsc --noEmit` check the file as the CLI
 * does. Existing files are left alone (an error names them).
 */
export function init(dir: string): string[] {
  const root = resolve(dir);
  const files = { "model.ts": starter(), "tsconfig.json": tsconfig() };
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
