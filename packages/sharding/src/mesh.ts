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
}

/** Named axes in order (the first is the slowest-varying) over chips of one kind. */
export interface Mesh {
  readonly chip: Chip;
  readonly axes: readonly MeshAxis[];
  readonly chips: number;
}

/**
 * Wraparound (the book, "tpus"): v5e/v6e are 2D tori whose axes wrap only at the full pod
 * length of 16; v4/v5p are 3D tori that wrap on axes that are multiples of 4 (whole cubes).
 */
function wraps(c: Chip, size: number): boolean {
  if (c.topology.kind !== "torus" || size < 3) return false;
  return c.topology.wraps === "full-axis-only" ? size === c.topology.maxAxis : size % 4 === 0;
}

/**
 * `mesh("v5e", { X: 4, Y: 4 })`. GPU meshes lay the last axes inside an NVLink domain (8 GPUs
 * per node); an axis that reaches across nodes uses the scale-out network, whose per-node
 * bandwidth its GPUs share.
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
    if (c.topology.kind === "torus" && size > c.topology.maxAxis) {
      throw new ShardcostError(
        "mesh",
        `mesh axis ${name}=${size} is longer than a ${c.name} pod's axis (${c.topology.maxAxis})`,
      );
    }
  }
  let inner = 1; // chips spanned by the axes after this one (faster-varying)
  const axes: MeshAxis[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, size] = entries[i]!;
    axes.unshift(axisOf(c, name, size, inner));
    inner *= size;
  }
  return { chip: c, axes, chips: inner };
}

function axisOf(c: Chip, name: string, size: number, inner: number): MeshAxis {
  const t = c.topology;
  if (t.kind === "torus") {
    return { name, size, link: "ici", wraps: wraps(c, size), bandwidth: c.linkBandwidth };
  }
  if (t.kind === "pcie") {
    return { name, size, link: "pcie", wraps: false, bandwidth: c.linkBandwidth };
  }
  if (inner * size <= t.domain) {
    return { name, size, link: "nvlink", wraps: false, bandwidth: c.linkBandwidth };
  }
  // The node's NICs are shared by its GPUs.
  return {
    name,
    size,
    link: "scale-out",
    wraps: false,
    bandwidth: t.scaleOutBandwidth / t.domain,
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
