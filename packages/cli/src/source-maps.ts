// Source lines for frames in built JavaScript, read from the `.map` file beside it — only for
// the files a report names (see `setFrameMapper` in @shardcost/core).
import { readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SourceLocation } from "@shardcost/core";

interface Known {
  readonly map: SourceMap;
  /** Where the map's relative sources are resolved from. */
  readonly root: string;
}

const maps = new Map<string, Known | null>();

function mapOf(file: string): Known | null {
  let known = maps.get(file);
  if (known !== undefined) return known;
  known = null;
  try {
    const payload = JSON.parse(readFileSync(`${file}.map`, "utf8")) as SourceMapPayload;
    known = { map: new SourceMap(payload), root: resolve(dirname(file), payload.sourceRoot) };
  } catch {
    // No map beside the file (or not one we can read): its own positions are reported.
  }
  maps.set(file, known);
  return known;
}

/**
 * A built file's position (1-based line and column) in its TypeScript source, when a `.map`
 * sits beside the file and maps the position; else undefined.
 */
export function mapFrame(file: string, line: number, column: number): SourceLocation | undefined {
  const known = mapOf(file);
  if (!known) return undefined;
  const hit = known.map.findEntry(line - 1, column - 1) as Partial<{
    originalSource: string;
    originalLine: number;
    originalColumn: number;
  }>;
  if (hit.originalSource === undefined || hit.originalLine === undefined) return undefined;
  const source = hit.originalSource.startsWith("file:")
    ? fileURLToPath(hit.originalSource)
    : resolve(known.root, hit.originalSource);
  return { file: source, line: hit.originalLine + 1, column: (hit.originalColumn ?? 0) + 1 };
}
