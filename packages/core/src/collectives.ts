import { Primitive } from "./primitives.js";

/**
 * The closed sub-set of primitives that move data between chips. Adding one here (and to
 * `Primitive`) makes `tsc` list every table it must fill: `CollectiveTable` is keyed by this
 * union, so a missing entry is a type error, never a silent zero.
 */
export type CollectivePrimitive =
  | Primitive.AllGather
  | Primitive.ReduceScatter
  | Primitive.AllReduce
  | Primitive.AllToAll;

/** A total table over the collectives: one entry for each, checked by the compiler. */
export type CollectiveTable<T> = { readonly [K in CollectivePrimitive]: T };

/** What core knows about a collective beyond the primitive tables: how reports name it. */
export interface CollectiveInfo {
  /** The book's name, printed with the axes it runs over: `AllGather_XY`. */
  readonly name: string;
}

/** Names of the collectives as *How to Scale Your Model* writes them. */
export const COLLECTIVES: CollectiveTable<CollectiveInfo> = {
  [Primitive.AllGather]: { name: "AllGather" },
  [Primitive.ReduceScatter]: { name: "ReduceScatter" },
  [Primitive.AllReduce]: { name: "AllReduce" },
  [Primitive.AllToAll]: { name: "AllToAll" },
};

/** Whether `p` moves data between chips (one of `CollectivePrimitive`). */
export function isCollective(p: Primitive): p is CollectivePrimitive {
  return Object.hasOwn(COLLECTIVES, p);
}
