const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/** A node of the shared params' trie: children by part, and the params where a key ends. */
interface Node {
  readonly next: Map<unknown, Node>;
  params: object | undefined;
}

const root: Node = { next: new Map(), params: undefined };
// Bounded, as a cache: past the limits, params are made afresh (still correct, not shared).
let shared = 0;
let nodes = 0;
const MAX_NODES = 100_000;

// Markers for the parts that are not names: null, and where a list starts and ends.
const NULL = Symbol("null");
const OPEN = Symbol("[");
const CLOSE = Symbol("]");

/**
 * The child of `node` for `key`; when there is none, made if there is room and `check` passes
 * (`true` for a marker, or the name to check), else undefined. A name is checked only the first
 * time it is seen under its node.
 */
function child(node: Node, key: unknown, check: true | string): Node | undefined {
  let next = node.next.get(key);
  if (next === undefined) {
    const ok = check === true || NAME.test(check);
    if (nodes >= MAX_NODES || !ok) return undefined;
    nodes++;
    next = { next: new Map(), params: undefined };
    node.next.set(key, next);
  }
  return next;
}

/**
 * One params object per distinct value, shared by every equation that takes it, so the tracer
 * and lowering can remember what a repeated op decided (see core's `OpMemo`). The key is the op
 * and its parts: names (dims, dtypes), lists of names or null. Only valid names are keyed
 * (checked the first time a key is seen), so no value can pass for another; params of any other
 * shape (bad input, which the op's rule reports) are made afresh and never shared. Keys walk a
 * trie of the parts themselves: a repeated op builds no key text.
 */
export function sharedParams<T extends object>(
  op: string,
  parts: readonly (string | null | readonly string[])[],
  make: () => T,
): T {
  let node: Node | undefined = child(root, op, true)!;
  for (let i = 0; i < parts.length && node !== undefined; i++) {
    const p = parts[i];
    if (p === null) node = child(node, NULL, true);
    else if (typeof p === "string") node = child(node, p, p);
    else if (Array.isArray(p)) {
      node = child(node, OPEN, true);
      for (let k = 0; k < p.length && node !== undefined; k++) {
        const x: unknown = p[k];
        node = typeof x === "string" ? child(node, x, x) : undefined;
      }
      if (node !== undefined) node = child(node, CLOSE, true);
    } else node = undefined;
  }
  if (node === undefined) return make();
  let params = node.params as T | undefined;
  if (params === undefined) {
    params = Object.freeze(make());
    if (shared < 10_000) {
      node.params = params;
      shared++;
    }
  }
  return params;
}
