import type { DType } from "./dtype.js";
import type { Aval } from "./ir.js";
import type { DimSharding } from "./notation.js";

/**
 * Value types are interned: one frozen object per distinct (dtype, dims with their axes,
 * partial sums), so a program of a million equations holds a few hundred types rather than a
 * million copies, equal types are the same object (passes compare and cache by identity), and
 * making a type that exists allocates nothing. Lookups walk small tries keyed by strings and
 * by the interned parts themselves. Types hold no sizes (only names, axes and dtypes), so the
 * tables stay small however many programs a process traces.
 */

const NO_AXES: readonly string[] = [];

interface AxesNode {
  readonly list: readonly string[];
  readonly next: Map<string, AxesNode>;
}

const axesRoot: AxesNode = { list: NO_AXES, next: new Map() };
/** Every interned axes list: an input already interned is returned as it is. */
const internedAxes = new WeakSet<readonly string[]>([NO_AXES]);

/**
 * The interned list of these mesh axes (in order). Lists are shared, never to be changed (their
 * type is readonly); they are not frozen, since V8 iterates frozen arrays on a slower path.
 */
export function axesList(axes: readonly string[]): readonly string[] {
  if (axes.length === 0) return NO_AXES;
  if (internedAxes.has(axes)) return axes;
  let node = axesRoot;
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i]!;
    let next = node.next.get(a);
    if (next === undefined) {
      next = { list: axes.slice(0, i + 1), next: new Map() };
      internedAxes.add(next.list);
      node.next.set(a, next);
    }
    node = next;
  }
  return node.list;
}

const dimsByName = new Map<string, Map<readonly string[], DimSharding>>();
const internedDims = new WeakSet<DimSharding>();

/** The interned, frozen `{ dim, axes }`. */
export function dimSharding(dim: string, axes: readonly string[]): DimSharding {
  const list = axesList(axes);
  let byAxes = dimsByName.get(dim);
  if (byAxes === undefined) {
    byAxes = new Map();
    dimsByName.set(dim, byAxes);
  }
  let d = byAxes.get(list);
  if (d === undefined) {
    d = Object.freeze({ dim, axes: list });
    internedDims.add(d);
    byAxes.set(list, d);
  }
  return d;
}

/** A dim entry as interned: itself when it already is. */
function internDim(d: DimSharding): DimSharding {
  return internedDims.has(d) ? d : dimSharding(d.dim, d.axes);
}

interface AvalNode {
  readonly next: Map<DimSharding, AvalNode>;
  readonly byPartial: Map<readonly string[], Aval>;
  /** The interned dims list ending at this node. */
  dims: readonly DimSharding[] | undefined;
}

const avalRoots = new Map<DType, AvalNode>();
const internedAvals = new WeakSet<Aval>();

const freshNode = (): AvalNode => ({ next: new Map(), byPartial: new Map(), dims: undefined });

/** The trie node one dim further on (made when new). */
function step(node: AvalNode, d: DimSharding): AvalNode {
  let next = node.next.get(d);
  if (next === undefined) {
    next = freshNode();
    node.next.set(d, next);
  }
  return next;
}

function rootOf(dtype: DType): AvalNode {
  let root = avalRoots.get(dtype);
  if (root === undefined) {
    root = freshNode();
    avalRoots.set(dtype, root);
  }
  return root;
}

function nodeOf(dtype: DType, dims: readonly DimSharding[]): AvalNode {
  let node = rootOf(dtype);
  for (let i = 0; i < dims.length; i++) node = step(node, internDim(dims[i]!));
  node.dims ??= dims.map(internDim);
  return node;
}

function atNode(node: AvalNode, dtype: DType, partial: readonly string[]): Aval {
  const p = axesList(partial);
  let a = node.byPartial.get(p);
  if (a === undefined) {
    a = Object.freeze({ dtype, dims: node.dims!, partial: p });
    internedAvals.add(a);
    node.byPartial.set(p, a);
  }
  return a;
}

/** The interned type with this dtype, dims (with their axes) and pending partial sums. */
export function aval(
  dtype: DType,
  dims: readonly DimSharding[],
  partial: readonly string[] = NO_AXES,
): Aval {
  return atNode(nodeOf(dtype, dims), dtype, partial);
}

/** An aval as interned: itself when it already is. */
export function internAval(a: Aval): Aval {
  return internedAvals.has(a) ? a : aval(a.dtype, a.dims, a.partial);
}

/**
 * The interned type with these dims, none of them sharded and no partial sums: what shape
 * rules make for most results (dims by name).
 */
export function plainAval(dtype: DType, names: readonly string[]): Aval {
  let node = rootOf(dtype);
  for (let i = 0; i < names.length; i++) node = step(node, dimSharding(names[i]!, NO_AXES));
  node.dims ??= names.map((n) => dimSharding(n, NO_AXES));
  return atNode(node, dtype, NO_AXES);
}

/**
 * The interned type of `a` with each dim split over the axes `axes` gives it (none when
 * absent) and partial sums `partial`: what lowering makes for every value, with no
 * temporaries when the type exists.
 */
export function resharded(
  a: Aval,
  axes: ReadonlyMap<string, readonly string[]>,
  partial: readonly string[],
): Aval {
  let node = rootOf(a.dtype);
  const dims = a.dims;
  for (let i = 0; i < dims.length; i++) {
    const d = dimSharding(dims[i]!.dim, axes.get(dims[i]!.dim) ?? NO_AXES);
    node = step(node, d);
  }
  node.dims ??= dims.map((d) => dimSharding(d.dim, axes.get(d.dim) ?? NO_AXES));
  return atNode(node, a.dtype, partial);
}

/** The same type with another dtype (interned). */
export function withDtype(a: Aval, dtype: DType): Aval {
  return a.dtype === dtype ? internAval(a) : aval(dtype, a.dims, a.partial);
}
