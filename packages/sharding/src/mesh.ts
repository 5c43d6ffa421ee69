import { type Chip, chip as lookupChip, ShardcostError } from "@shardcost/core";

/** How an axis's chips talk: TPU ICI links, NVLink inside a node, the network across nodes. */
export type LinkKind = "ici" | "nvlink" | "scale-out" | "pcie";

/**
 * One axis of a mesh: its name, size, link kind and bandwidth, whether it wraps around, and the
 * torus dimensions it lies on.
 */
export interface MeshAxis {
  readonly name: string;
  readonly size: number;
  readonly link: LinkKind;
  /** ICI axes: whether the ring closes (wraparound links), doubling usable bandwidth. */
  readonly wraps: boolean;
  /** Bytes/s one way that one chip can push along this axis. */
  readonly bandwidth: number;
  /**
   * The physical links the axis runs on: TPU torus dimensions (logical axes folded onto one
   * dimension share its links), or a GPU level (0 NVLink or PCIe, 1 the scale-out network).
   */
  readonly physical: readonly number[];
}

/** Named axes in order (the first is the slowest-varying) over chips of one kind. */
export interface Mesh {
  readonly chip: Chip;
  readonly axes: readonly MeshAxis[];
  readonly chips: number;
}

/**
 * How logical axes lie on a torus, as `jax.make_mesh` lays a mesh on a slice. With no more
 * logical axes than the torus has dimensions, each axis is a dimension. With more (a 3-axis
 * mesh on a 2D v5e), the slice is the chip's own shape for that many chips (the squarest of
 * powers of two: 2x4, 4x4, 4x8, 8x8, 8x16, 16x16) and the axes fill its dimensions in order; an
 * axis that does not fit in what is left of a dimension spans the next one too (v5e 4x8x8 on
 * 16x16: X on the first, Y across both, Z on the second).
 */
export function layOnTorus(
  rank: number,
  sizes: readonly number[],
): { slice: number[]; dims: number[][] } {
  if (sizes.length <= rank) return { slice: [...sizes], dims: sizes.map((_, i) => [i]) };
  const chips = sizes.reduce((a, b) => a * b, 1);
  const slice: number[] = [];
  let rest = chips;
  for (let i = rank - 1; i >= 1; i--) {
    const d = 2 ** Math.floor(Math.log2(rest) / (i + 1));
    slice.push(d);
    rest /= d;
  }
  slice.push(rest);
  const dims: number[][] = [];
  let at = 0;
  let room = slice[0]!;
  for (const n of sizes) {
    const spans = [at];
    let need = n;
    while (need > room && at < rank - 1 && need % room === 0 && room > 1) {
      need /= room;
      at++;
      room = slice[at]!;
      spans.push(at);
    }
    if (need <= room && room % need === 0) room /= need;
    else room = 1;
    if (room === 1 && at < rank - 1) {
      at++;
      room = slice[at]!;
    }
    dims.push(spans);
  }
  return { slice, dims };
}

/**
 * Wraparound (the book, "tpus"): v5e/v6e are 2D tori whose dimensions wrap only at the full pod
 * length of 16; v4/v5p are 3D tori that wrap on every dimension of a slice made of whole
 * 4x4x4 cubes. Only an axis that is a whole dimension by itself has the ring.
 */
function wraps(c: Chip, slice: readonly number[], dim: number, size: number): boolean {
  const t = c.topology;
  if (t.kind !== "torus" || size < 3 || slice[dim] !== size) return false;
  if (t.wraps === "full-axis-only") return size === Math.max(...t.pod);
  return slice.length === t.rank && slice.every((n) => n % 4 === 0);
}

/**
 * `mesh("v5e", { X: 4, Y: 4 })`. TPU meshes lie on the chip's torus (see `layOnTorus`) and
 * must fit in a pod. GPU meshes lay the last axes inside an NVLink domain (8 GPUs per node);
 * an axis that reaches across nodes uses the scale-out network, whose per-node bandwidth its
 * GPUs share.
 */
export function mesh(chipOrName: Chip | string, shape: Readonly<Record<string, number>>): Mesh {
  const c = typeof chipOrName === "string" ? lookupChip(chipOrName) : chipOrName;
  const entries = Object.entries(shape);
  const text = entries.map(([k, v]) => `${k}: ${v}`).join(", ");
  for (const [name, size] of entries) {
    if (!/^[A-Z]$/.test(name)) {
      throw new ShardcostError(
        "mesh",
        `mesh axis "${name}" in { ${text} }: axes are single capital letters`,
      );
    }
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new ShardcostError(
        "mesh",
        `mesh axis ${name} has size ${size} in { ${text} }; sizes are positive integers`,
      );
    }
  }
  const t = c.topology;
  const laid =
    t.kind === "torus"
      ? layOnTorus(
          t.rank,
          entries.map(([, n]) => n),
        )
      : undefined;
  if (t.kind === "torus") fitsPod(c, t.pod, laid!.slice, entries);
  let inner = 1; // chips spanned by the axes after this one (faster-varying)
  const axes: MeshAxis[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, size] = entries[i]!;
    const dims = laid?.dims[i] ?? [0];
    const alone = dims.length === 1 && laid?.dims.filter((d) => d.includes(dims[0]!)).length === 1;
    const wrap = laid !== undefined && alone && wraps(c, laid.slice, dims[0]!, size);
    axes.unshift(axisOf(c, name, size, inner, dims, wrap));
    inner *= size;
  }
  return { chip: c, axes, chips: inner };
}

function fitsPod(
  c: Chip,
  pod: readonly number[],
  dims: readonly number[],
  entries: readonly [string, number][],
): void {
  const have = [...dims].sort((a, b) => a - b);
  const room = [...pod].sort((a, b) => a - b).slice(-have.length);
  if (have.every((n, i) => n <= room[i]!)) return;
  const longest = Math.max(...pod);
  const axis = entries.find(([, n]) => n > longest);
  throw new ShardcostError(
    "mesh",
    axis
      ? `mesh axis ${axis[0]}=${axis[1]} is longer than a ${c.name} pod's axis (${longest})`
      : `mesh ${entries.map(([, n]) => n).join("x")} lies on a ${dims.join("x")} slice, ` +
          `which does not fit in a ${c.name} pod (${pod.join("x")})`,
  );
}

function axisOf(
  c: Chip,
  name: string,
  size: number,
  inner: number,
  physical: readonly number[],
  wrap: boolean,
): MeshAxis {
  const t = c.topology;
  if (t.kind === "torus") {
    return { name, size, link: "ici", wraps: wrap, bandwidth: c.linkBandwidth, physical };
  }
  if (t.kind === "pcie") {
    return { name, size, link: "pcie", wraps: false, bandwidth: c.linkBandwidth, physical: [0] };
  }
  if (inner * size <= t.domain) {
    return { name, size, link: "nvlink", wraps: false, bandwidth: c.linkBandwidth, physical: [0] };
  }
  // The node's NICs are shared by its GPUs.
  return {
    name,
    size,
    link: "scale-out",
    wraps: false,
    bandwidth: t.scaleOutBandwidth / t.domain,
    physical: [1],
  };
}

/** Parses `4x4`, `2x2x4`, `1` into axes X, Y, Z (in order). */
export function parseMeshShape(text: string): Record<string, number> {
  const parts = text.split("x");
  if (parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new ShardcostError("mesh", `mesh shape "${text}": write AxB or AxBxC, e.g. 4x4`);
  }
  const names = ["X", "Y", "Z"];
  return Object.fromEntries(parts.map((p, i) => [names[i]!, Number(p)]));
}

/** A mesh as a line: chip, axes with sizes, chips in all. */
export function printMesh(m: Mesh): string {
  return `${m.chip.name} ${m.axes.map((a) => `${a.name}=${a.size}`).join(" ")} (${m.chips} chips)`;
}
