const paramsByKey = new Map<string, object>();
const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * One params object per distinct value, shared by every equation that takes it, so the tracer
 * and lowering can remember what a repeated op decided (see core's `OpMemo`). The key is the op
 * and its parts as text: names (dims, dtypes), lists of names (bracketed) or null (written "-").
 * Only valid names are keyed, so no value can pass for another; params of any other shape (bad
 * input, which the op's rule reports) are made afresh and never shared.
 */
export function sharedParams<T extends object>(
  op: string,
  parts: readonly (string | null | readonly string[])[],
  make: () => T,
): T {
  let key = op;
  for (const p of parts) {
    if (p === null) key += " -";
    else if (typeof p === "string" && NAME.test(p)) key += ` ${p}`;
    else if (Array.isArray(p) && p.every((x) => typeof x === "string" && NAME.test(x))) {
      key += ` [${p.join(",")}]`;
    } else return make();
  }
  let params = paramsByKey.get(key) as T | undefined;
  if (params === undefined) {
    params = Object.freeze(make());
    if (paramsByKey.size < 10_000) paramsByKey.set(key, params);
  }
  return params;
}
