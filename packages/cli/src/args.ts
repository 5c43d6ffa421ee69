import { parseArgs } from "node:util";
import { DTYPES, type DType, isDType } from "@shardcost/core";

/** A malformed command line: printed with the usage line, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

export const OPTIONS = {
  model: { type: "string" },
  mesh: { type: "string" },
  phase: { type: "string" },
  batch: { type: "string" },
  seq: { type: "string" },
  weights: { type: "string" },
  kv: { type: "string" },
  compute: { type: "string" },
  layout: { type: "string" },
  layers: { type: "string" },
  dim: { type: "string", multiple: true },
  attention: { type: "string" },
  json: { type: "boolean" },
  format: { type: "string" },
  out: { type: "string" },
  top: { type: "string" },
  timeout: { type: "string" },
  chip: { type: "string" },
  context: { type: "string" },
  prompt: { type: "string" },
  output: { type: "string" },
  "latency-ms": { type: "string" },
  "min-throughput": { type: "string" },
  "show-commands": { type: "boolean" },
  pass: { type: "string" },
  full: { type: "boolean" },
  objective: { type: "string" },
  budget: { type: "string" },
  save: { type: "string" },
  workers: { type: "string" },
  part: { type: "string" },
  search: { type: "boolean" },
  merge: { type: "string" },
  mfu: { type: "string" },
  "hbm-efficiency": { type: "string" },
  "ici-efficiency": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

export type FlagName = keyof typeof OPTIONS;

/** The closest of `candidates` to `word` (edit distance ≤ 2, or a prefix), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = c.startsWith(word) || word.startsWith(c) ? 1 : distance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = next;
    }
  }
  return row[b.length]!;
}

export type Flags = ReturnType<typeof parseFlags>["flags"];

/** Splits `argv` into the command, its flags and positionals; unknown flags are usage errors. */
export function parseFlags(argv: readonly string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { command: positionals[0], positionals: positionals.slice(1), flags: values };
  } catch (e) {
    let message = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    const unknown = /Unknown option '--?([^']+)'/.exec(message)?.[1];
    const near = unknown ? closest(unknown, Object.keys(OPTIONS)) : undefined;
    if (near) message += `; did you mean --${near}?`;
    throw new UsageError(
      message,
      argv.find((a) => !a.startsWith("-")),
    );
  }
}

/** A positive decimal number (`12`, `0.5`) for `--flag`; `what` says what it counts. */
export function positiveNumber(flag: string, text: string, what: string): number {
  const v = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(v > 0)) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: a positive number of ${what}`);
  }
  return v;
}

/** A positive integer flag, e.g. `--batch 32`. */
export function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a positive integer`);
  }
  return Number(text);
}

/** The most values one list flag may expand to. */
export const MAX_LIST = 100_000;

/**
 * Parses a list of integers: `1,8..256` (doubling) or `8..64:+8` (stepped); a bad list is a usage
 * error.
 */
export function intList(flag: string, text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)\.\.(\d+)(?::([+x])(\d+))?$/.exec(part.trim());
    if (!m) {
      out.push(positiveInt(flag, part));
      continue;
    }
    const lo = positiveInt(flag, m[1]!);
    const hi = positiveInt(flag, m[2]!);
    const op = m[3] ?? "x";
    const step = m[4] === undefined ? 2 : positiveInt(flag, m[4]);
    if (hi < lo || (op === "x" && step < 2)) {
      throw new UsageError(
        `--${flag} ${JSON.stringify(part)}: a range is LO..HI with LO ≤ HI, stepped by :+N or :xN (N ≥ 2)`,
      );
    }
    // Counted before expanding: a range can name more values than memory holds.
    const count =
      op === "+"
        ? Math.floor((hi - lo) / step) + 1
        : Math.floor(Math.log(hi / lo) / Math.log(step) + 1e-9) + 1;
    if (out.length + count > MAX_LIST) {
      throw new UsageError(
        `--${flag} ${JSON.stringify(part)} names ${count.toLocaleString("en-US")} values; ` +
          `a list holds at most ${MAX_LIST.toLocaleString("en-US")} (use a coarser step)`,
      );
    }
    for (let v = lo; v <= hi; v = op === "+" ? v + step : v * step) out.push(v);
  }
  return [...new Set(out)];
}

/** A comma-separated list of words, each one of `allowed`. */
export function choiceList<T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[] | ((s: string) => s is T),
  /** The values to suggest when `allowed` is a test. */
  hint?: readonly string[],
): T[] {
  const ok =
    typeof allowed === "function" ? allowed : (s: string): s is T => allowed.includes(s as T);
  const values = typeof allowed === "function" ? hint : allowed;
  return text.split(",").map((raw) => {
    const s = raw.trim();
    if (!ok(s)) {
      const list = values ? ` (one of ${values.join(", ")})` : "";
      throw new UsageError(`--${flag} ${JSON.stringify(s)} is not a valid value${list}`);
    }
    return s;
  });
}

export function choice<T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[] | ((s: string) => s is T),
  hint?: readonly string[],
): T {
  const list = choiceList(flag, text, allowed, hint);
  if (list.length !== 1) throw new UsageError(`--${flag} takes one value here, not a list`);
  return list[0]!;
}

/** A dtype name; `fp8` means fp8e4m3 (the inference format). */
export function dtypeFlag(flag: string, text: string): DType {
  return dtypeList(flag, text)[0]!;
}

/** Parses a comma-separated list of dtypes; an unknown one is a usage error. */
export function dtypeList(flag: string, text: string): DType[] {
  const named = text.replace(/\bfp8\b/g, "fp8e4m3");
  const isName = (s: string): s is DType => isDType(s);
  try {
    return choiceList(flag, named, isName);
  } catch {
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)}: dtypes are ${DTYPES.join(", ")} (fp8 = fp8e4m3)`,
    );
  }
}

/** `--dim NAME=SIZE`, repeatable. */
export function dimFlags(items: readonly string[] | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const item of items ?? []) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(item);
    if (!m) throw new UsageError(`--dim ${JSON.stringify(item)}: write NAME=SIZE, e.g. --dim B=64`);
    dims[m[1]!] = positiveInt(`dim ${m[1]}`, m[2]!);
  }
  return dims;
}

/** A time budget: `10s`, `500ms`, `2m` or plain seconds (`10`). */
export function duration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const v = m ? Number(m[1]) * ({ ms: 1e-3, s: 1, m: 60 }[m[2] ?? "s"] ?? 1) : Number.NaN;
  if (!(v > 0) || v > 86_400) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)}: a time such as 10s, 500ms or 2m (at most a day)`,
    );
  }
  return v;
}

/** `--part K/N`: the K-th of N parts (1-based), as 0-based index and count. */
export function partFlag(text: string): { index: number; of: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : 0;
  const n = m ? Number(m[2]) : 0;
  if (!m || n < 1 || k < 1 || k > n || n > 10_000) {
    throw new UsageError(`--part ${JSON.stringify(text)}: K/N with 1 ≤ K ≤ N, e.g. --part 2/8`);
  }
  return { index: k - 1, of: n };
}
