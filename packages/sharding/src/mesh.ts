import { type Chip, chip as lookupChip, ShardcostError } from "@shardcost/core";

/** How an axis's chips talk: TPU ICI links, NVLink inside a node, the network across nodes. */
export type LinkKind = "ici" | "nvlink" | "scale-out" | "pcie";

export interface MeshAxis {
  readonly name: string;
  readonly size: number;
  readonly link: LinkKind;
  /** ICI axes: whether the ring closes (wraparound links), doubling usable bandwidth. */
  readonly wraps: boolean;
  /** Bytes/s one way that one chip can push along this axis. */
  readonly bandwidth: number;
  /**
   * The physical links the axis runs on: a TPU torus dimension (logical axes folded onto one
   * dimension share its links), or a GPU level (0 NVLink or PCIe, 1 the scale-out network).
   */
  readonly physical: number;
}

/** Named axes in order (the first is the slowest-varying) over chips of one kind. */
export interface Mesh {
  readonly chip: Chip;
  readonly axes: readonly MeshAxis[];
  readonly chips: number;
}

/**
 * How logical axes lie on a torus (as `jax.make_mesh` lays a mesh on the devices): with more
 * logical axes than the torus has dimensions, the leading ones fold onto its first dimension
 * (v5e `2x4x4` is a 8x4 slice whose first dimension carries X and Y); otherwise one each.
 */
function physicalOf(rank: number, count: number): number[] {
  const folded = Math.max(0, count - rank);
  return Array.from({ length: count }, (_, i) => Math.max(0, i - folded));
}

/**
 * Wraparound (the book, "tpus"): v5e/v6e are 2D tori whose dimensions wrap only at the full pod
 * length of 16; v4/v5p are 3D tori that wrap on every dimension of a slice made of whole
 * 4x4x4 cubes. A logical axis sharing its dimension with another has no ring of its own.
 */
function wraps(c: Chip, physical: readonly number[], size: number, alone: boolean): boolean {
  const t = c.topology;
  if (t.kind !== "torus" || size < 3 || !alone) return false;
  if (t.wraps === "full-axis-only") return size === Math.max(...t.pod);
  return physical.length === t.rank && physical.every((n) => n % 4 === 0);
}

/**
 * `mesh("v5e", { X: 4, Y: 4 })`. TPU meshes lie on the chip's torus (see `physicalOf`) and
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
  const onTorus = t.kind === "torus" ? physicalOf(t.rank, entries.length) : [];
  const dims: number[] = [];
  entries.forEach(([, size], i) => {
    const p = onTorus[i] ?? 0;
    dims[p] = (dims[p] ?? 1) * size;
  });
  if (t.kind === "torus") fitsPod(c, t.pod, dims, entries);
  let inner = 1; // chips spanned by the axes after this one (faster-varying)
  const axes: MeshAxis[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, size] = entries[i]!;
    const p = onTorus[i] ?? 0;
    const alone = onTorus.filter((x) => x === p).length === 1;
    axes.unshift(axisOf(c, name, size, inner, p, wraps(c, dims, size, alone)));
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
  physical: number,
  wrap: boolean,
): MeshAxis {
  const t = c.topology;
  if (t.kind === "torus") {
    return { name, size, link: "ici", wraps: wrap, bandwidth: c.linkBandwidth, physical };
  }
  if (t.kind === "pcie") {
    return { name, size, link: "pcie", wraps: false, bandwidth: c.linkBandwidth, physical: 0 };
  }
  if (inner * size <= t.domain) {
    return { name, size, link: "nvlink", wraps: false, bandwidth: c.linkBandwidth, physical: 0 };
  }
  // The node's NICs are shared by its GPUs.
  return {
    name,
    size,
    link: "scale-out",
    wraps: false,
    bandwidth: t.scaleOutBandwidth / t.domain,
    physical: 1,
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

export function printMesh(m: Mesh): string {
  return `${m.chip.name} ${m.axes.map((a) => `${a.name}=${a.size}`).join(" ")} (${m.chips} chips)`;
}
