/** Human-readable figures for reports: SI prefixes, fixed significant digits, never NaN. */

const PREFIXES = ["", "k", "M", "G", "T", "P", "E"] as const;

/**
 * A number with an SI prefix and unit, to `digits` significant digits: `si(4.2e9, "B")` is `4.20
 * GB`.
 */
export function si(value: number, unit: string, digits = 3): string {
  if (!Number.isFinite(value)) return value > 0 ? `∞ ${unit}` : value < 0 ? `-∞ ${unit}` : "—";
  if (value === 0) return `0 ${unit}`;
  let v = Math.abs(value);
  let k = 0;
  while (v >= 1000 && k < PREFIXES.length - 1) {
    v /= 1000;
    k++;
  }
  const sign = value < 0 ? "-" : "";
  return `${sign}${v.toPrecision(digits)} ${PREFIXES[k]}${unit}`;
}

/** Bytes with an SI prefix: `47.2 MB`. */
export const formatBytes = (b: number) => si(b, "B");

/**
 * A memory capacity as its vendor states it: a whole number of GiB (an 80 GiB H100) as GiB with
 * the bytes in GB beside it, anything else in GB.
 */
export function formatCapacity(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return Number.isInteger(gib) ? `${gib} GiB (${formatBytes(bytes)})` : formatBytes(bytes);
}
/** FLOPs with an SI prefix: `21.5 GFLOP`. */
export const formatFlops = (f: number) => si(f, "FLOP");

/** Seconds in the unit that suits them (ns, µs, ms, s). */
export function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const a = Math.abs(seconds);
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${(seconds * 1e9).toPrecision(3)} ns`;
  if (a < 1e-3) return `${(seconds * 1e6).toPrecision(3)} µs`;
  if (a < 1) return `${(seconds * 1e3).toPrecision(3)} ms`;
  return `${seconds.toPrecision(3)} s`;
}

/** A table column's alignment. */
export type Align = "left" | "right";

/** A plain-text table: a header row, a rule, the rows; numbers right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = header.map(() => "left"),
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (align[i] === "right" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
