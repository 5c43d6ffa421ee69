import { NotationError } from "./errors.js";

/**
 * The book's sharding notation: `Win[D_X, F_YZ]` names an array whose dim D is split over mesh
 * axis X and dim F over axes Y then Z; `[B, D]` is unnamed and replicated; a trailing `{U_X}`
 * marks partial sums still to be reduced over X. Mesh axes are single capital letters.
 */
export interface DimSharding {
  readonly dim: string;
  readonly axes: readonly string[];
}

/**
 * A parsed sharding in the book's notation: each dim with the mesh axes that split it, and the axes
 * it is a partial sum over.
 */
export interface Sharding {
  readonly name?: string;
  readonly dims: readonly DimSharding[];
  readonly partial: readonly string[];
}

const NAME = /^[A-Za-z][A-Za-z0-9_.]*$/;
const DIM_ENTRY = /^([A-Za-z][A-Za-z0-9]*)(?:_([A-Z]+))?$/;
const PARTIAL = /^\{\s*U_([A-Z]+)\s*\}$/;

const parsed = new Map<string, Sharding>();

/** Parses notation text; throws NotationError quoting the text on anything malformed. */
export function parseSharding(text: string): Sharding {
  if (typeof text !== "string") throw new NotationError(String(text), "expected a string");
  const known = parsed.get(text);
  if (known) return known;
  const s = parseFresh(text);
  // Shardings are never mutated, so one parse can serve every use of the same text.
  if (parsed.size < 10_000) parsed.set(text, Object.freeze(s));
  return s;
}

function parseFresh(text: string): Sharding {
  const open = text.indexOf("[");
  const close = text.lastIndexOf("]");
  if (open < 0 || close < open) {
    throw new NotationError(text, "expected NAME[DIM_AXES, ...] such as Win[D_X, F_YZ]");
  }
  const name = text.slice(0, open).trim();
  if (name !== "" && !NAME.test(name)) {
    throw new NotationError(text, `"${name}" is not a tensor name (letters, digits, _ and .)`);
  }
  const body = text.slice(open + 1, close).trim();
  const tail = text.slice(close + 1).trim();
  const dims: DimSharding[] = [];
  const seenDims = new Set<string>();
  const seenAxes = new Set<string>();
  const useAxis = (axis: string, where: string): void => {
    if (seenAxes.has(axis)) {
      throw new NotationError(
        text,
        `mesh axis ${axis} is used twice (again in ${where}); an axis shards at most one dim`,
      );
    }
    seenAxes.add(axis);
  };
  if (body !== "") {
    for (const rawEntry of body.split(",")) {
      const entry = rawEntry.trim();
      const m = DIM_ENTRY.exec(entry);
      if (!m) {
        throw new NotationError(
          text,
          `"${entry}" is not a dim entry; write a dim name with optional mesh axes, e.g. D or F_YZ`,
        );
      }
      const dim = m[1]!;
      if (seenDims.has(dim)) throw new NotationError(text, `dim ${dim} appears twice`);
      seenDims.add(dim);
      const axes = m[2] ? [...m[2]] : [];
      for (const a of axes) useAxis(a, entry);
      dims.push({ dim, axes });
    }
  }
  let partial: string[] = [];
  if (tail !== "") {
    const m = PARTIAL.exec(tail);
    if (!m) {
      throw new NotationError(
        text,
        `unexpected "${tail}" after "]"; partial sums are written {U_X}`,
      );
    }
    partial = [...m[1]!];
    for (const a of partial) useAxis(a, "{U_...}");
  }
  return name === "" ? { dims, partial } : { name, dims, partial };
}

const AXIS = /^[A-Z]$/;
const DIM = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * A sharding built as data (not parsed), checked by the rules notation obeys: a tensor name,
 * dim names, single-letter mesh axes, no dim twice, no axis twice. Returns it, frozen.
 */
export function checkSharding(s: Sharding): Sharding {
  // Checked without temporaries (a model constrains values thousands of times); the text is
  // printed only for an error.
  if (s.name !== undefined && !NAME.test(s.name)) {
    shardingError(s, `"${s.name}" is not a tensor name (letters, digits, _ and .)`);
  }
  const dims = s.dims;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (!DIM.test(d.dim)) shardingError(s, `"${d.dim}" is not a dim name`);
    for (let j = 0; j < i; j++) {
      if (dims[j]!.dim === d.dim) shardingError(s, `dim ${d.dim} appears twice`);
    }
    for (let k = 0; k < d.axes.length; k++) checkAxis(s, i, k);
  }
  for (let k = 0; k < s.partial.length; k++) checkAxis(s, dims.length, k);
  return Object.freeze(s);
}

/**
 * Axis `k` of dim `i` (of the partial sums when `i` is past the dims): a mesh axis, not used by
 * an earlier dim or earlier in its own list.
 */
function checkAxis(s: Sharding, i: number, k: number): void {
  const list = i < s.dims.length ? s.dims[i]!.axes : s.partial;
  const axis = list[k]!;
  if (!AXIS.test(axis)) shardingError(s, `"${axis}" is not a mesh axis (A–Z)`);
  let twice = list.indexOf(axis) < k;
  for (let j = 0; j < i && !twice; j++) twice = s.dims[j]!.axes.includes(axis);
  if (twice) {
    const where = i < s.dims.length ? printDim(s.dims[i]!) : "{U_...}";
    shardingError(
      s,
      `mesh axis ${axis} is used twice (again in ${where}); an axis shards at most one dim`,
    );
  }
}

function shardingError(s: Sharding, why: string): never {
  throw new NotationError(printSharding(s), why);
}

/** One dim as the notation writes it: `D`, `D_X`, `F_YZ`. */
export function printDim(d: DimSharding): string {
  return d.axes.length > 0 ? `${d.dim}_${d.axes.join("")}` : d.dim;
}

/** Pending partial sums as the notation writes them: `{U_X}` (empty when none). */
export function printPartial(partial: readonly string[]): string {
  return partial.length > 0 ? `{U_${partial.join("")}}` : "";
}

/** Prints the canonical text: `Win[D_X, F_YZ]{U_Z}`. Inverse of `parseSharding`. */
export function printSharding(s: Sharding): string {
  return `${s.name ?? ""}[${s.dims.map(printDim).join(", ")}]${printPartial(s.partial)}`;
}

/** All mesh axes a sharding uses, dims first, then partial-sum axes. */
export function axesOf(s: Pick<Sharding, "dims" | "partial">): string[] {
  return [...s.dims.flatMap((d) => d.axes), ...s.partial];
}
