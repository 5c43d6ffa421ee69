import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ShardcostError } from "@shardcost/core";
import { packageEntries } from "./model-compile.js";

/** The starter model file, shipped with the package. */
const STARTER = fileURLToPath(new URL("../templates/model.ts", import.meta.url));

/**
 * Writes a starter `model.ts` and a `tsconfig.json` whose paths point `@shardcost/*` at this
 * installation's type declarations, so editors and `tsc --noEmit` check the file as the CLI
 * does. Existing files are left alone (an error names them).
 */
export function init(dir: string): string[] {
  const root = resolve(dir);
  const files = { "model.ts": readFileSync(STARTER, "utf8"), "tsconfig.json": tsconfig() };
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
