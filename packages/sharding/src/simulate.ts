import {
  type ArrayInput,
  type Aval,
  bytesOf,
  type CollectivePrimitive,
  type DType,
  type Eqn,
  type EqnOf,
  evalEqn,
  forEachIndex,
  globalShape,
  inputArray,
  isCollective,
  type NDArray,
  ndarray,
  type Operand,
  Primitive,
  type Program,
  type ResultShape,
  ShardcostError,
  stridesOf,
} from "@shardcost/core";
import type { Mesh } from "./mesh.js";

/** One collective as the simulator ran it: its equation and the bytes each device sent. */
export interface SimulatedCollective {
  /** Index of the collective in the lowered program's equations. */
  readonly eqn: number;
  readonly primitive: Primitive;
  /** Bytes each device sent in it. */
  readonly bytesSent: readonly number[];
}

/** A simulated SPMD run: the outputs gathered from every device, and the bytes each device sent. */
export interface Simulation {
  /** Each output gathered from the devices' shards (replicas checked to agree). */
  readonly outputs: Record<string, NDArray>;
  /** Bytes each device sent over the whole program. */
  readonly bytesSent: readonly number[];
  readonly collectives: readonly SimulatedCollective[];
}

/** Device d's coordinate on each mesh axis; axes in order, the first slowest-varying. */
function coordinates(mesh: Mesh): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let d = 0; d < mesh.chips; d++) {
    const c = new Map<string, number>();
    let rest = d;
    for (let i = mesh.axes.length - 1; i >= 0; i--) {
      const a = mesh.axes[i]!;
      c.set(a.name, rest % a.size);
      rest = Math.floor(rest / a.size);
    }
    out.push(c);
  }
  return out;
}

class Devices {
  readonly coords: Map<string, number>[];
  readonly sizes: Map<string, number>;
  constructor(readonly mesh: Mesh) {
    this.coords = coordinates(mesh);
    this.sizes = new Map(mesh.axes.map((a) => [a.name, a.size]));
  }
  /** Index of device d's block along `axes` (the first axis major). */
  block(d: number, axes: readonly string[]): number {
    let idx = 0;
    for (const a of axes) idx = idx * this.sizes.get(a)! + this.coords[d]!.get(a)!;
    return idx;
  }
  count(axes: readonly string[]): number {
    return axes.reduce((n, a) => n * this.sizes.get(a)!, 1);
  }
  /** The devices that differ from d only along `axes`, ordered by their block along them. */
  group(d: number, axes: readonly string[]): number[] {
    const members: number[] = [];
    for (let e = 0; e < this.mesh.chips; e++) {
      let same = true;
      for (const [a, c] of this.coords[d]!)
        if (!axes.includes(a) && this.coords[e]!.get(a) !== c) same = false;
      if (same) members.push(e);
    }
    return members.sort((x, y) => this.block(x, axes) - this.block(y, axes));
  }
  localShape(aval: Aval, dims: Readonly<Record<string, number>>): ResultShape {
    return {
      dims: aval.dims.map((d) => d.dim),
      shape: aval.dims.map((d) => dims[d.dim]! / this.count(d.axes)),
    };
  }
}

/** The block of `a` starting at `starts` with `shape`. */
function extract(a: NDArray, starts: readonly number[], shape: readonly number[]): NDArray {
  const out = ndarray(a.dims, shape);
  const src = stridesOf(a.shape);
  const base = starts.reduce((s, x, i) => s + x * src[i]!, 0);
  forEachIndex(shape, [src, stridesOf(shape)], (o) => {
    out.data[o[1]!] = a.data[base + o[0]!]!;
  });
  return out;
}

function place(
  into: NDArray,
  block: NDArray,
  starts: readonly number[],
  written: Uint8Array,
  what: string,
) {
  const dst = stridesOf(into.shape);
  const base = starts.reduce((s, x, i) => s + x * dst[i]!, 0);
  forEachIndex(block.shape, [stridesOf(block.shape), dst], (o) => {
    const at = base + o[1]!;
    const v = block.data[o[0]!]!;
    if (written[at] && !Object.is(into.data[at], v)) {
      throw new ShardcostError(
        "sharding",
        `replicas of ${what} disagree: ${into.data[at]} vs ${v}`,
      );
    }
    into.data[at] = v;
    written[at] = 1;
  });
}

function concat(parts: readonly NDArray[], dim: string): NDArray {
  const i = parts[0]!.dims.indexOf(dim);
  const shape = [...parts[0]!.shape];
  shape[i] = parts.reduce((n, p) => n + p.shape[i]!, 0);
  const out = ndarray(parts[0]!.dims, shape);
  let at = 0;
  const written = new Uint8Array(out.data.length);
  for (const p of parts) {
    const starts = shape.map((_, k) => (k === i ? at : 0));
    place(out, p, starts, written, "a concatenation");
    at += p.shape[i]!;
  }
  return out;
}

/** Block `k` of `n` equal blocks of `a` along `dim`. */
function blockOf(a: NDArray, dim: string, k: number, n: number): NDArray {
  const i = a.dims.indexOf(dim);
  const shape = a.shape.map((s, j) => (j === i ? s / n : s));
  return extract(
    a,
    shape.map((s, j) => (j === i ? k * s : 0)),
    shape,
  );
}

function maximum(parts: readonly NDArray[]): NDArray {
  const out = ndarray(parts[0]!.dims, parts[0]!.shape);
  out.data.fill(-Infinity);
  for (const p of parts)
    for (let i = 0; i < p.data.length; i++) {
      out.data[i] = Math.max(out.data[i]!, p.data[i]!);
    }
  return out;
}

/**
 * `dynamic_update_slice` on one device's block [offset, offset + local) of a dim of global
 * `size`: the start is clamped globally (as XLA clamps it), and only positions in the block land.
 */
function writeBlock(
  block: NDArray,
  update: NDArray,
  params: { readonly dim: string; readonly updateDim: string | null },
  startArg: NDArray | number,
  offset: number,
  size: number,
): NDArray {
  const out = ndarray(block.dims, block.shape);
  out.data.set(block.data);
  const window =
    params.updateDim === null ? 1 : update.shape[update.dims.indexOf(params.updateDim)]!;
  const raw = typeof startArg === "number" ? startArg : startArg.data[0]!;
  const start = Math.min(Math.max(Math.trunc(raw), 0), size - window);
  const strides = stridesOf(out.shape);
  const along = out.dims.indexOf(params.dim);
  const count = update.data.length;
  const index = new Array<number>(update.dims.length).fill(0);
  for (let u = 0; u < count; u++) {
    let rest = u;
    for (let i = update.dims.length - 1; i >= 0; i--) {
      index[i] = rest % update.shape[i]!;
      rest = Math.floor(rest / update.shape[i]!);
    }
    const byDim = (dim: string) => index[update.dims.indexOf(dim)]!;
    const pos = start + (params.updateDim === null ? 0 : byDim(params.updateDim)) - offset;
    if (pos < 0 || pos >= out.shape[along]!) continue;
    let at = 0;
    out.dims.forEach((dim, i) => {
      at += (i === along ? pos : byDim(dim)) * strides[i]!;
    });
    out.data[at] = update.data[u]!;
  }
  return out;
}

function sum(parts: readonly NDArray[]): NDArray {
  const out = ndarray(parts[0]!.dims, parts[0]!.shape);
  for (const p of parts) for (let i = 0; i < p.data.length; i++) out.data[i]! += p.data[i]!;
  return out;
}

/**
 * Runs a lowered program on every device of `mesh`: each holds its shard of every input,
 * computes its local equations, and exchanges real data in each collective, counting the
 * bytes it sends. Returns the outputs gathered from the shards.
 */
export function simulate(
  lowered: Program,
  mesh: Mesh,
  arrays: Readonly<Record<string, ArrayInput>>,
): Simulation {
  const dev = new Devices(mesh);
  const chips = mesh.chips;
  const env = new Map<number, NDArray[]>();
  const bytesSent = new Array<number>(chips).fill(0);
  const collectives: SimulatedCollective[] = [];
  for (const input of lowered.inputs) {
    const given = arrays[input.path];
    if (given === undefined)
      throw new ShardcostError("input", `no array given for input ${input.path}`);
    const global = inputArray(
      input.path,
      input.var.aval,
      globalShape(input.var.aval, lowered.dims),
      given,
    );
    const local = dev.localShape(input.var.aval, lowered.dims);
    env.set(
      input.var.id,
      Array.from({ length: chips }, (_, d) =>
        extract(
          global,
          input.var.aval.dims.map((x, i) => dev.block(d, x.axes) * local.shape[i]!),
          local.shape,
        ),
      ),
    );
  }
  lowered.eqns.forEach((eqn, index) => {
    const args = eqn.inputs.map((a) => (a.kind === "var" ? env.get(a.id)! : a.value));
    const at = (d: number): Operand[] => args.map((a) => (typeof a === "number" ? a : a[d]!));
    const out = eqn.outputs.map((v) => dev.localShape(v.aval, lowered.dims));
    const sent = new Array<number>(chips).fill(0);
    const results = runOn(eqn, dev, at, out, sent);
    if (isCollective(eqn.primitive))
      collectives.push({ eqn: index, primitive: eqn.primitive, bytesSent: sent });
    sent.forEach((b, d) => {
      bytesSent[d]! += b;
    });
    eqn.outputs.forEach((v, k) => {
      env.set(
        v.id,
        results.map((r) => r[k]!),
      );
    });
  });
  const outputs: Record<string, NDArray> = {};
  for (const o of lowered.outputs) {
    const g = globalShape(o.var.aval, lowered.dims);
    const global = ndarray(g.dims, g.shape);
    const written = new Uint8Array(global.data.length);
    const local = env.get(o.var.id)!;
    for (let d = 0; d < chips; d++) {
      const starts = o.var.aval.dims.map((x, i) => dev.block(d, x.axes) * local[d]!.shape[i]!);
      place(global, local[d]!, starts, written, `output ${o.path}`);
    }
    outputs[o.path] = global;
  }
  return { outputs, bytesSent, collectives };
}

/** What a collective step sees: the devices, each one's operand, and where to count bytes. */
interface StepContext {
  readonly dev: Devices;
  readonly devices: readonly number[];
  readonly x: (d: number) => NDArray;
  readonly dtype: DType;
  readonly bytes: (a: NDArray) => number;
  readonly sent: number[];
}

type CollectiveStep<K extends CollectivePrimitive> = (
  eqn: EqnOf<K>,
  run: StepContext,
) => NDArray[][];

/**
 * Each collective as real data movement between simulated devices, counting the bytes every
 * device sends (the cost model's ICI bytes must equal them). Total over the collectives.
 */
const collectiveSteps: { readonly [K in CollectivePrimitive]: CollectiveStep<K> } = {
  [Primitive.AllGather]: (eqn, { dev, devices, x, bytes, sent }) => {
    // Several dims at once: the same data as one gather per dim, and the same bytes
    // ((|A|−1)·in + (|B|−1)·|A|·in = (|A||B|−1)·in).
    let cur = devices.map((d) => x(d));
    for (const { dim, axes } of eqn.params.parts ?? [eqn.params]) {
      const before = cur;
      cur = devices.map((d) => {
        const group = dev.group(d, axes);
        sent[d]! += (group.length - 1) * bytes(before[d]!);
        return concat(
          group.map((e) => before[e]!),
          dim,
        );
      });
    }
    return cur.map((a) => [a]);
  },
  [Primitive.ReduceScatter]: (eqn, { dev, devices, x, bytes, sent }) => {
    const { dim, axes } = eqn.params;
    return devices.map((d) => {
      const group = dev.group(d, axes);
      const mine = blockOf(sum(group.map(x)), dim, dev.block(d, axes), group.length);
      sent[d] = (group.length - 1) * bytes(mine);
      return [mine];
    });
  },
  [Primitive.AllReduce]: (eqn, { dev, devices, x, dtype, sent }) => {
    const { axes, op } = eqn.params;
    return devices.map((d) => {
      const group = dev.group(d, axes);
      const n = group.length;
      const total = op === "max" ? maximum(group.map(x)) : sum(group.map(x));
      // As a ReduceScatter then an AllGather over n near-equal chunks of the flat array:
      // a device sends every chunk but its own, then its own reduced chunk to the others.
      const length = total.data.length;
      const own = dev.block(d, axes);
      const chunk = Math.floor(length / n) + (own < length % n ? 1 : 0);
      sent[d] = bytesOf(dtype, length - chunk) + (n - 1) * bytesOf(dtype, chunk);
      return [total];
    });
  },
  [Primitive.AllToAll]: (eqn, { dev, devices, x, bytes, sent }) => {
    const { from, to, axes } = eqn.params;
    return devices.map((d) => {
      const group = dev.group(d, axes);
      const n = group.length;
      const me = dev.block(d, axes);
      const pieces = group.map((e) => blockOf(x(e), to, me, n));
      sent[d] = bytes(x(d)) - bytes(blockOf(x(d), to, me, n));
      return [concat(pieces, from)];
    });
  },
};

/** One equation on every device; returns each device's results and fills `sent`. */
function runOn(
  eqn: Eqn,
  dev: Devices,
  at: (d: number) => Operand[],
  out: readonly ResultShape[],
  sent: number[],
): NDArray[][] {
  const chips = dev.mesh.chips;
  const devices = Array.from({ length: chips }, (_, d) => d);
  const x = (d: number) => at(d)[0] as NDArray;
  const dtype = eqn.outputs[0]!.aval.dtype;
  const bytes = (a: NDArray) => bytesOf(dtype, a.data.length);
  if (isCollective(eqn.primitive)) {
    const step = collectiveSteps[eqn.primitive] as CollectiveStep<CollectivePrimitive>;
    return step(eqn as EqnOf<CollectivePrimitive>, { dev, devices, x, dtype, bytes, sent });
  }
  switch (eqn.primitive) {
    case Primitive.ShardSlice: {
      const { dim, axes } = eqn.params;
      return devices.map((d) => [blockOf(x(d), dim, dev.block(d, axes), dev.count(axes))]);
    }
    case Primitive.DynamicUpdateSlice: {
      // A cache split along the written dim: each device writes the part of the update that
      // lands in its own block of positions (a masked local write).
      const target = eqn.inputs[0]!;
      const axes =
        target.kind === "var"
          ? (target.aval.dims.find((d) => d.dim === eqn.params.dim)?.axes ?? [])
          : [];
      if (axes.length === 0) return devices.map((d) => evalEqn(eqn, at(d), out));
      return devices.map((d) => {
        const [cacheBlock, update, start] = at(d) as [NDArray, NDArray, NDArray | number];
        const local = cacheBlock.shape[cacheBlock.dims.indexOf(eqn.params.dim)]!;
        const size = local * dev.count(axes);
        return [
          writeBlock(cacheBlock, update, eqn.params, start, dev.block(d, axes) * local, size),
        ];
      });
    }
    case Primitive.Gather: {
      // A table sharded on the looked-up dim holds rows [start, start + rows): ids outside it
      // read zeros, and the partial rows sum to the whole lookup.
      const table = eqn.inputs[0]!;
      const axes =
        table.kind === "var"
          ? (table.aval.dims.find((d) => d.dim === eqn.params.dim)?.axes ?? [])
          : [];
      if (axes.length === 0) return devices.map((d) => evalEqn(eqn, at(d), out));
      return devices.map((d) => {
        const [t, ids] = at(d) as [NDArray, NDArray];
        const rows = t.shape[t.dims.indexOf(eqn.params.dim)]!;
        const start = dev.block(d, axes) * rows;
        const shifted = { ...ids, data: ids.data.map((v) => v - start) };
        const [looked] = evalEqn(eqn, [t, shifted], out);
        const width = looked!.data.length / Math.max(ids.data.length, 1);
        ids.data.forEach((v, i) => {
          if (v < start || v >= start + rows) looked!.data.fill(0, i * width, (i + 1) * width);
        });
        return [looked!];
      });
    }
    default:
      return devices.map((d) => evalEqn(eqn, at(d), out));
  }
}
