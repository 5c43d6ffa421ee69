import { readFileSync } from "node:fs";
import { parseSharding, ShardcostError, type TensorSpec, tensor } from "@shardcost/core";
import type { LlamaConfig } from "@shardcost/ops";
import {
  type LayoutName,
  type LayoutPoint,
  placePoint,
  printedRoles,
  type ResolvedLayout,
  roleNotation,
  type SearchStep,
} from "@shardcost/serving";
import type { Mesh } from "@shardcost/sharding";

/** A layout read from a file `shardcost search --save` wrote: a point of the layout space. */
export interface FoundLayout {
  readonly kind: "found";
  readonly file: string;
  readonly point: LayoutPoint;
}

/** What `--layout` names: a named layout or a layout file. */
export type CliLayout = LayoutName | FoundLayout;

/** How a layout is named in reports: its name, or its file's path. */
export const layoutLabel = (l: CliLayout): string => (typeof l === "string" ? l : l.file);

/** The format tag of a layout file. */
export const LAYOUT_FILE_FORMAT = "shardcost-layout/1";

/**
 * A layout file's text: the point (which `estimate --layout FILE` re-places for any batch and
 * sequence on a mesh with the same axis names), and for the reader, the per-role shardings in
 * the book's notation and the query it was found for.
 */
export function layoutFileText(
  point: LayoutPoint,
  layout: ResolvedLayout,
  config: LlamaConfig,
  found: { readonly model: string; readonly mesh: string; readonly step: SearchStep },
): string {
  const roles = Object.fromEntries(printedRoles(config).map((r) => [r, roleNotation(layout, r)]));
  return `${JSON.stringify(
    { format: LAYOUT_FILE_FORMAT, foundFor: found, point, roles, choices: layout.choices },
    null,
    2,
  )}\n`;
}

const bad = (file: string, why: string): never => {
  throw new ShardcostError(
    "input",
    `layout file ${file}: ${why} (write one with shardcost search --save FILE)`,
  );
};

function axisList(file: string, field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((a) => typeof a === "string" && /^[A-Z]$/.test(a))) {
    bad(file, `"point.${field}" must be a list of mesh axis names such as ["X", "Y"]`);
  }
  const list = v as string[];
  if (new Set(list).size !== list.length) bad(file, `"point.${field}" names an axis twice`);
  return list;
}

function oneOf<T extends string>(
  file: string,
  field: string,
  v: unknown,
  allowed: readonly T[],
): T {
  if (typeof v !== "string" || !allowed.includes(v as T)) {
    bad(file, `"point.${field}" must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  }
  return v as T;
}

/** Reads and checks a layout file; a malformed one is a typed error naming the field. */
export function readLayoutFile(file: string): FoundLayout {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ShardcostError(
      "input",
      `cannot read layout file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return bad(file, `not valid JSON: ${(e as Error).message}`);
  }
  const o = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (o.format !== LAYOUT_FILE_FORMAT) bad(file, `"format" must be "${LAYOUT_FILE_FORMAT}"`);
  const p = (
    typeof o.point === "object" && o.point !== null ? o.point : bad(file, 'no "point"')
  ) as Record<string, unknown>;
  const point: LayoutPoint = {
    gather: axisList(file, "gather", p.gather),
    x: axisList(file, "x", p.x),
    yz: axisList(file, "yz", p.yz),
    mlpD: axisList(file, "mlpD", p.mlpD),
    attnD: axisList(file, "attnD", p.attnD),
    vocabD: axisList(file, "vocabD", p.vocabD),
    kvWeights: oneOf(file, "kvWeights", p.kvWeights, ["H", "D"] as const),
    cache: oneOf(file, "cache", p.cache, ["batch", "sequence", "replicate"] as const),
    residual: oneOf(file, "residual", p.residual, ["sharded", "replicated"] as const),
  };
  const split = [...point.x, ...point.yz];
  if (new Set(split).size !== split.length) bad(file, '"point.x" and "point.yz" share an axis');
  for (const d of ["mlpD", "attnD"] as const) {
    const stray = point[d].find((a) => !point.yz.includes(a));
    if (stray) bad(file, `"point.${d}" names ${stray}, which is not in "point.yz"`);
  }
  return { kind: "found", file, point };
}

/**
 * A layout file placed for a model's step on `m`: its axes must be the mesh's (the same names;
 * the sizes may differ, the search's choices are re-made for them).
 */
export function placeFound(
  l: FoundLayout,
  config: LlamaConfig,
  m: Mesh,
  step: SearchStep,
): ResolvedLayout {
  const names = m.axes.map((a) => a.name).sort();
  const used = [...l.point.x, ...l.point.yz].sort();
  if (used.join() !== names.join()) {
    throw new ShardcostError(
      "sharding",
      `layout file ${l.file} splits axes ${used.join(", ") || "none"}, but the mesh has ` +
        `${names.join(", ")}; use it on a mesh with the axes it was found for, or search again`,
    );
  }
  const stray = [...l.point.gather, ...l.point.vocabD].find((a) => !names.includes(a));
  if (stray) {
    throw new ShardcostError(
      "sharding",
      `layout file ${l.file} names axis ${stray}, which the mesh does not have`,
    );
  }
  return { ...placePoint(config, m, step, l.point), name: l.file };
}

/** The format tag of a model file's roles file. */
export const ROLES_FILE_FORMAT = "shardcost-roles/1";

/** A roles file: each role's sharding in notation, as `search model.ts --save` finds them. */
export function rolesFileText(
  model: string,
  meshLabel: string,
  roles: Readonly<Record<string, string>>,
): string {
  return `${JSON.stringify({ format: ROLES_FILE_FORMAT, foundFor: { model, mesh: meshLabel }, roles }, null, 2)}\n`;
}

/**
 * A model file's inputs with the shardings of a roles file: each role must be one of its
 * tensors, written over the same dims (the axes may differ).
 */
export function applyRolesFile(
  file: string,
  inputs: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ShardcostError(
      "input",
      code ? `cannot read layout file ${file}: ${code}` : `layout file ${file}: not valid JSON`,
    );
  }
  const o = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  const badRoles = (why: string): never => {
    throw new ShardcostError(
      "input",
      `layout file ${file}: ${why} (write one with shardcost search model.ts --save FILE)`,
    );
  };
  if (o.format !== ROLES_FILE_FORMAT) badRoles(`"format" must be "${ROLES_FILE_FORMAT}"`);
  const roles = o.roles;
  if (typeof roles !== "object" || roles === null) return badRoles('no "roles" object');
  const out: Record<string, unknown> = { ...inputs };
  for (const [role, text] of Object.entries(roles)) {
    const spec = inputs[role] as TensorSpec | undefined;
    if (spec?.kind !== "tensor-spec") {
      badRoles(
        `role ${role} is not a tensor of the model's inputs (${Object.keys(inputs).join(", ")})`,
      );
    }
    if (typeof text !== "string")
      return badRoles(`role ${role}: a sharding in notation, e.g. "W[D_X, F_Y]"`);
    const sharding = parseSharding(text);
    const want = spec!.sharding.dims.map((d) => d.dim).join(", ");
    const got = sharding.dims.map((d) => d.dim).join(", ");
    if (want !== got) badRoles(`role ${role} is declared over [${want}], the file gives [${got}]`);
    out[role] = tensor(sharding, spec!.dtype, spec!.role);
  }
  return out;
}
