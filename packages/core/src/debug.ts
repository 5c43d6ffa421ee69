/**
 * `SHARDCOST_DEBUG=passes` prints the program after every pass of a pipeline to stderr, so a
 * surprising number can be traced to the pass that made it.
 */
const enabled =
  typeof process !== "undefined" &&
  (process.env.SHARDCOST_DEBUG ?? "").split(",").includes("passes");

/**
 * Prints `render()` to stderr after the pass named `pass` when `SHARDCOST_DEBUG=passes` (rendering
 * only then).
 */
export function debugPass(pass: string, render: () => string): void {
  if (enabled) process.stderr.write(`── after ${pass} ──\n${render()}\n`);
}
