// Bad input through the CLI, as a user types it: each case's exit status (2 for a malformed
// command line, 1 for a model or resource error), a message naming the culprit, no stack
// trace, no NaN, and an end within the case's time limit.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, expectNoStackTrace, ROOT, scratch } from "./run.js";

interface Case {
  /** What kind of bad input: the coverage below asserts each kind has cases. */
  readonly kind: Kind;
  readonly args: readonly string[];
  readonly status: 0 | 1 | 2;
  readonly message: RegExp;
  /** Files written into the case's directory (the working directory of the run). */
  readonly files?: Readonly<Record<string, string>>;
  /** Milliseconds the run may take. */
  readonly within?: number;
}

const KINDS = [
  "number",
  "list",
  "mesh",
  "dtype",
  "layout",
  "command",
  "model-name",
  "flag",
  "dim",
  "config",
  "model-file",
  "resource",
  "output",
] as const;
type Kind = (typeof KINDS)[number];

const M = ["--model", "llama3-8b"];
const PROTO = ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty"];

const tiny = (body: string, extra = "") =>
  [
    'import { tensor, type Traced } from "@shardcost/core";',
    'import { einsum, shard } from "@shardcost/ops";',
    extra,
    "export const dims = { B: 8, D: 64, F: 128 };",
    'export const inputs = { x: tensor("x[B, D]"), w: tensor("w[D, F_X]", "bf16", "param") };',
    `export default function f(t: Traced<typeof inputs>) {\n${body}\n}`,
  ].join("\n");
const OK_BODY = '  return { y: einsum("BD,DF->BF", t.x, t.w) };';

const config = (fields: Record<string, unknown>) =>
  JSON.stringify({
    architectures: ["LlamaForCausalLM"],
    hidden_size: 4096,
    intermediate_size: 14336,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    num_hidden_layers: 32,
    vocab_size: 128256,
    ...fields,
  });

const numberFlags: Case[] = ["batch", "seq", "layers", "top"].flatMap((flag) =>
  ["many", "-4", "0", "1.5", "1e400", "NaN", "Infinity", "0x10", ""].map(
    (v): Case => ({
      kind: "number",
      args: ["estimate", ...M, "--mesh", "v5e:4", `--${flag}=${v}`],
      status: 2,
      message: new RegExp(`--${flag} "${v.replace(/[.+]/g, "\\$&")}": expected a positive integer`),
    }),
  ),
);

const CASES: Case[] = [
  ...numberFlags,
  // Lists and ranges: checked before they are expanded.
  ...[
    ["1..9007199254740991:+1", /names 9,007,199,254,740,991 values; a list holds at most 100,000/],
    ["1..1e9", /expected a positive integer/],
    ["64..8", /a range is LO\.\.HI with LO ≤ HI/],
    ["1..64:x1", /a range is LO\.\.HI/],
    ["8..", /"8\.\.": expected a positive integer/],
    ["..8", /"\.\.8": expected a positive integer/],
    ["1,,2", /--batch "": expected a positive integer/],
    ["1..100001:+1", /names 100,001 values/],
    ["1..64:+0", /"0": expected a positive integer/],
  ].map(
    ([list, message]): Case => ({
      kind: "list",
      args: ["sweep", ...M, "--mesh", "v5e:4", "--batch", list as string],
      status: 2,
      message: message as RegExp,
    }),
  ),
  {
    kind: "list",
    args: [
      "sweep",
      ...M,
      "--mesh",
      "v5e:2x2,v5e:4",
      "--batch",
      "1..100000:+1",
      "--layout",
      "1d-ws,2d-ws,fsdp",
      "--weights",
      "bf16,int8",
    ],
    status: 2,
    message: /the sweep names 1,200,000 configurations; one sweep costs at most 1,000,000/,
  },
  // Meshes.
  ...[
    ["v5e", /--mesh "v5e": write CHIP:AxBxC/],
    ["v5e:", /write CHIP:AxBxC/],
    ["v5e:4x", /write CHIP:AxBxC/],
    ["v5e:4y4", /write CHIP:AxBxC/],
    ["v5e:-4", /write CHIP:AxBxC/],
    ["v5e:2x2x2x2", /--mesh "v5e:2x2x2x2": write CHIP:AxBxC/],
    ["v5e:0x4", /mesh axis X has size 0/],
    ["tpu9:4", /unknown chip "tpu9"; known chips: v5e/],
    ["v5e:1000x1000", /--mesh "v5e:1000x1000": /],
    ["v5e:4x4,v5e:8", /--mesh takes one mesh here/],
    ...PROTO.map((p) => [`${p}:4`, new RegExp(`unknown chip "${p}"|write CHIP:AxBxC`)]),
  ].map(
    ([mesh, message]): Case => ({
      kind: "mesh",
      args: ["estimate", ...M, "--mesh", mesh as string],
      status: 2,
      message: message as RegExp,
    }),
  ),
  // Dtypes.
  ...[
    ["weights", "int7"],
    ["kv", "fp9"],
    ["compute", "float"],
    ...PROTO.map((p) => ["weights", p]),
  ].map(
    ([flag, v]): Case => ({
      kind: "dtype",
      args: ["estimate", ...M, "--mesh", "v5e:4", `--${flag}`, v!],
      status: 2,
      message: new RegExp(`--${flag} "${v}": dtypes are f32, bf16`),
    }),
  ),
  // Layouts.
  ...["3d-ws", "weight-gathered:W", "weight-gathered:", "1D-WS", ...PROTO].map(
    (v): Case => ({
      kind: "layout",
      args: ["estimate", ...M, "--mesh", "v5e:4", "--layout", v],
      status: 2,
      message: new RegExp(`--layout "${v}" is not a valid value \\(one of 1d-ws, 2d-ws`),
    }),
  ),
  // Commands.
  ...[...PROTO, "estmate", "sweeps", "ESTIMATE"].map(
    (c): Case => ({
      kind: "command",
      args: [c, ...M],
      status: 2,
      message: new RegExp(`unknown command "${c}"`),
    }),
  ),
  // Model names.
  ...[...PROTO, "llama-9", "llama3-7b"].map(
    (name): Case => ({
      kind: "model-name",
      args: ["estimate", "--model", name, "--mesh", "v5e:4"],
      status: 2,
      message: new RegExp(`--model "${name}": one of llama3-8b, llama3-70b, llama3-405b`),
    }),
  ),
  // Flags: unknown, misspelt, foreign to the command, missing values, given twice.
  ...(
    [
      [["estimate", ...M, "--bogus"], /Unknown option '--bogus'/],
      [["estimate", ...M, "--fromat", "csv"], /did you mean --format\?/],
      [["estimate", ...M, "--mseh", "v5e:4"], /did you mean --mesh\?/],
      [["trace", ...M, "--format", "csv"], /--format does not apply to trace/],
      [["estimate", ...M, "--top"], /--top/],
      [["estimate", "--model"], /--model/],
      [["estimate", ...M, "--phase", "train"], /--phase "train" is not a valid value/],
      [["estimate", ...M, "--attention", "sparse"], /--attention "sparse" is not a valid value/],
      [["estimate", ...M, "--timeout", "soon"], /--timeout "soon": seconds/],
      [["estimate", ...M, "--timeout", "0"], /--timeout "0": seconds/],
      [["estimate", ...M, "--timeout", "-1"], /'--timeout' argument is ambiguous/],
      [["estimate", ...M, "extra.json"], /give a model file or --model, not both/],
      [["estimate"], /which model\?/],
      [["estimate", "model.ts", ...M], /give a model file or --model, not both/],
      [["init", "a", "b"], /unexpected argument b/],
    ] as const
  ).map(([args, message]): Case => ({ kind: "flag", args, status: 2, message })),
  // --dim on a built-in model.
  ...[
    ["b=64", /--dim b: a built-in model's dims are L, D, F, N, K, H, V/],
    ["B=4", /--dim B: a built-in model's dims are/],
    ["D=abc", /--dim D "abc": expected a positive integer/],
    ["D=0", /--dim D "0": expected a positive integer/],
    ["D=NaN", /--dim D "NaN": expected a positive integer/],
    ["D=Infinity", /--dim D "Infinity": expected a positive integer/],
    ["D=1e400", /--dim D "1e400": expected a positive integer/],
    ["D", /--dim "D": write NAME=SIZE/],
    ["=4", /--dim "=4": write NAME=SIZE/],
    ...PROTO.map((p) => [
      `${p}=4`,
      new RegExp(`--dim ${p}: a built-in model's dims are|--dim "${p}=4": write NAME=SIZE`),
    ]),
  ].map(
    ([dim, message]): Case => ({
      kind: "dim",
      args: ["estimate", ...M, "--mesh", "v5e:4", "--dim", dim as string],
      status: 2,
      message: message as RegExp,
    }),
  ),
  // --dim on a model file: the file's dims are listed.
  {
    kind: "dim",
    args: ["estimate", "m.ts", "--mesh", "v5e:4", "--dim", "b=64"],
    files: { "m.ts": tiny(OK_BODY) },
    status: 2,
    message: /--dim b: m\.ts has no dim b \(did you mean B\?\); its dims are B, D, F/,
    within: 15_000,
  },
  {
    kind: "dim",
    args: ["sweep", "m.ts", "--mesh", "v5e:4", "--dim", "Q=1,2"],
    files: { "m.ts": tiny(OK_BODY) },
    status: 2,
    message: /--dim Q: m\.ts has no dim Q; its dims are B, D, F/,
    within: 15_000,
  },
  // Hugging Face configs.
  ...(
    [
      ["{ hidden_size: ", /c\.json/],
      ["[]", /c\.json/],
      ["null", /c\.json/],
      ['{ "hidden_size": 4096 }', /no "architectures" or "model_type" says what model this is/],
      [config({ architectures: ["GPT2LMHeadModel"] }), /GPT2LMHeadModel.*supported/],
      [config({ hidden_size: "4096" }), /hidden_size/],
      [config({ hidden_size: -4096 }), /hidden_size/],
      [config({ hidden_size: 4096.5 }), /hidden_size/],
      [config({ intermediate_size: undefined }), /missing field "intermediate_size"/],
      [config({ num_attention_heads: 30 }), /heads|K=8/],
      [config({ vocab_size: null }), /vocab_size/],
    ] as const
  ).map(
    ([text, message]): Case => ({
      kind: "config",
      args: ["estimate", "--model", "c.json", "--mesh", "v5e:4"],
      files: { "c.json": text },
      status: 1,
      message,
    }),
  ),
  {
    kind: "config",
    args: ["estimate", "--model", "nothere/config.json"],
    status: 1,
    message: /config file nothere\/config\.json not found/,
  },
  // Model files.
  ...(
    [
      [{}, ["missing.ts"], /model file missing\.ts not found/],
      [{ "d.ts/x": "" }, ["d.ts"], /model file d\.ts is a directory, not a file/],
      [
        { "m.cts": tiny(OK_BODY) },
        ["m.cts"],
        /CommonJS \(\.cts\) module; write the model as an ES module/,
      ],
      [
        { "m.ts": tiny("  return { y: t.x.nope };") },
        ["m.ts"],
        /m\.ts:\d+:\d+ Property 'nope' does not exist/,
      ],
      [
        { "m.ts": tiny('  throw new Error("not yet");') },
        ["m.ts"],
        /Error: not yet\n {2}at .*m\.ts:7/,
      ],
      [{ "m.ts": tiny("  return {};") }, ["m.ts"], /returned no tensors/],
      [{ "m.ts": tiny('  return { y: shard(t.x, "[B, D_Q]") };') }, ["m.ts"], /Q/],
      [
        { "m.ts": tiny('  return { y: shard(t.x, "[B_X, D_X]") };') },
        ["m.ts"],
        /X.*(twice|more than once)/,
      ],
      [
        { "m.ts": tiny('  return { y: einsum("BE,DF->BF", t.x, t.w) };') },
        ["m.ts"],
        /einsum: spec BE,DF->BF[\s\S]*at m\.ts:7/,
      ],
      [
        { "m.ts": tiny(OK_BODY).replace("B: 8, D: 64, F: 128", "B: 8, D: 64, F: 127") },
        ["m.ts", "--mesh", "v5e:2"],
        /F=127.*(divide|divisible)|(divide|divisible).*127/,
      ],
      [
        { "m.ts": tiny(OK_BODY).replace("B: 8, D: 64, F: 128", "B: 8, D: Number.NaN, F: 128") },
        ["m.ts"],
        /dims\.D is null, not a positive integer|dims\.D/,
      ],
      [{ "m.ts": "export const dims = {};" }, ["m.ts"], /no default export function or model\(\)/],
      [
        { "m.js": "export default 1;" },
        ["m.js"],
        /model file m\.js: expected a TypeScript \(\.ts\) module/,
      ],
      [
        { "m.ts": tiny("  for (;;) {}\n  return {};") },
        ["m.ts", "--timeout", "2"],
        /error\[timeout\]: model file m\.ts did not finish within 2 s/,
      ],
    ] as const
  ).map(
    ([files, args, message]): Case => ({
      kind: "model-file",
      args: ["estimate", ...args],
      files,
      status: 1,
      message,
      within: 15_000,
    }),
  ),
  // Resource limits: answered or refused with a typed error, in seconds. A built-in model of
  // any depth is answered from two- and three-layer traces; traced in full, it is refused.
  {
    kind: "resource",
    args: ["estimate", ...M, "--mesh", "v5e:4", "--layers", "100000"],
    status: 0,
    message: /×100000 {2}einsum[\s\S]*DOES NOT FIT/,
    within: 10_000,
  },
  {
    kind: "resource",
    args: ["estimate", ...M, "--mesh", "v5e:4", "--layers", "100000", "--full"],
    status: 1,
    message: /error\[resource\]: llama3-8b with 100,000 layers would trace about [\d,]+ equations/,
    within: 10_000,
  },
  {
    kind: "resource",
    args: ["estimate", "--model", "c.json", "--mesh", "v5e:4", "--json"],
    files: { "c.json": config({ num_hidden_layers: 1_000_000 }) },
    status: 0,
    message: /"fits": false/,
    within: 10_000,
  },
  {
    kind: "resource",
    args: ["explain", "--model", "c.json", "--mesh", "v5e:4"],
    files: { "c.json": config({ num_hidden_layers: 1_000_000 }) },
    status: 1,
    message: /error\[resource\]: .* with 1,000,000 layers would trace/,
    within: 10_000,
  },
  {
    kind: "resource",
    args: ["sweep", ...M, "--mesh", "v5e:4", "--layers", "1000000", "--batch", "8"],
    status: 0,
    message: /^mesh,chips,layout,batch/,
    within: 10_000,
  },
  {
    kind: "resource",
    args: ["report", ...M, "--mesh", "v5e:4", "--layers", "100000", "--out", "r.html", "--full"],
    status: 1,
    message: /error\[resource\]/,
    within: 10_000,
  },
  // Outputs.
  ...(
    [
      [
        ["estimate", ...M, "--out", "/nonexistent/dir/x.json"],
        1,
        /cannot write \/nonexistent\/dir\/x\.json: no such directory/,
      ],
      [["estimate", ...M, "--out", "."], 1, /cannot write \./],
      [["trace", ...M, "--mesh", "v5e:4", "--out", "/nonexistent/t.json"], 1, /cannot write/],
      [["estimate", ...M, "--top", "0"], 2, /--top "0": expected a positive integer/],
    ] as const
  ).map(([args, status, message]): Case => ({ kind: "output", args, status, message })),
];

/** Runs the bin in `dir`; a run past its limit is killed and fails the case. */
function run(args: readonly string[], dir: string, within: number) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; ms: number }>(
    (resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1" },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), within + 5_000);
      child.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr, ms: Date.now() - started });
      });
    },
  );
}

describe("bad input through the CLI", () => {
  it("covers every kind of bad input, with at least 100 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    for (const kind of KINDS)
      expect(CASES.filter((c) => c.kind === kind).length).toBeGreaterThan(0);
  });

  it.concurrent.each(CASES.map((c) => [c.kind, c.args.join(" "), c] as const))(
    "%s: shardcost %s",
    async (_kind, _line, c) => {
      const dir = scratch();
      for (const [name, text] of Object.entries(c.files ?? {})) {
        const path = join(dir, name);
        if (name.includes("/")) mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, text);
      }
      const within = c.within ?? 5_000;
      const r = await run(c.args, dir, within);
      const output = r.status === 0 ? r.stdout : r.stderr;
      expect(output).toMatch(c.message);
      expect(r.status).toBe(c.status);
      expectNoStackTrace(r.stderr);
      // Nothing prints NaN or undefined, unless echoing what the user typed.
      const typed = c.args.join(" ");
      for (const bad of ["NaN", "undefined", "[object Object]"]) {
        if (!typed.includes(bad)) expect(r.stdout + r.stderr).not.toContain(bad);
      }
      expect(r.ms).toBeLessThan(within);
    },
    30_000,
  );
});

// The README's table of exit statuses is the one these cases check.
it("the README documents the exit statuses", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  expect(readme).toMatch(/exit 2 with the usage line/);
  expect(readme).toMatch(/exit 1 with the typed message/);
  expect(readme).toMatch(/runs over 150 such command lines/);
});
