// The README's command lines against the code, so a walkthrough cannot name what the code does not do: every `npm
// run` script exists; every htc command line (`npx htc`, `htc`, the pods' `node /opt/htc/runtime/client.js`) names a
// command htc has and flags its parser accepts; every `npm run local --` and `npm run generate --` line parses with
// that script's own flags (its real entry point, asked for --help); every `cdktf deploy` and `cdktf destroy` names
// the stacks cdktf insists on with the ones named (the dependencies of a deployed stack, the dependants of a
// destroyed one), as cdktf refuses the command otherwise.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { App } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { commandNames, OPTIONS } from "../../runtime/src/client/cli";
import { buildGridApp } from "../../stacks/app";
import { gridConfig } from "../support/grid-synth";
import { REPO_ROOT } from "../support/tools";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

interface Command {
  /** README line (1-based) where the command starts. */
  readonly line: number;
  readonly words: string[];
}

/**
 * The commands of a shell-like line, as words: quotes kept together, `$(...)` one word, a redirection's target
 * dropped, a new command after an unquoted `|`, `&&` or `;`, nothing after an unquoted `#` (a comment).
 */
function split(text: string): string[][] {
  const commands: string[][] = [[]];
  let word = "";
  let quote = "";
  let started = false;
  let redirect = false;
  const end = () => {
    if (started && !redirect) commands[commands.length - 1].push(word);
    if (started) redirect = false; // a redirection's target is not a word of the command
    word = "";
    started = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === "$" && text[i + 1] === "(") {
      let depth = 0;
      for (; i < text.length; i++) {
        word += text[i];
        if (text[i] === "(") depth++;
        else if (text[i] === ")" && --depth === 0) break;
      }
      started = true;
    } else if (/\s/.test(c)) end();
    else if (!started && c === ">") redirect = true;
    else if (!started && c === "|")
      commands.push([]); // a pipe's reader is a command of its own
    else if (!started && c === "#")
      break; // a comment
    else if (c === ";" || (c === "&" && text[i + 1] === "&")) {
      end();
      commands.push([]);
      if (c === "&") i++;
    } else {
      word += c;
      started = true;
    }
  }
  end();
  return commands.filter((words) => words.length > 0);
}

/** Command lines of the README: lines of fenced blocks (continuations joined) and inline code spans. */
function commands(): Command[] {
  const out: Command[] = [];
  const lines = README.split("\n");
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("```")) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      let text = lines[i];
      const start = i;
      while (text.endsWith("\\") && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]}`;
      for (const words of split(text)) out.push({ line: start + 1, words });
    } else {
      for (const span of lines[i].matchAll(/`([^`]+)`/g)) {
        for (const words of split(span[1].replace(/\\\|/g, "|"))) out.push({ line: i + 1, words });
      }
    }
  }
  // Environment assignments before a command (`CHECKPOINT_DISABLE=1 npx cdktf ...`) are not its words.
  return out.map((c) => {
    let first = 0;
    while (first < c.words.length && /^[A-Z_][A-Z0-9_]*=/.test(c.words[first])) first++;
    return { line: c.line, words: c.words.slice(first) };
  });
}

/**
 * A reference line's usage syntax as an example command: `[--format json|ndjson]` → `--format json`, `SESSION...`
 * → `SESSION`, a bare `...` or `[options]` dropped.
 */
function example(words: readonly string[]): string[] {
  return words
    .filter((w) => w !== "..." && w !== "[options]")
    .map(
      (w) =>
        w
          .replace(/^\[|\]$/g, "")
          .replace(/\.\.\.$/, "")
          .split("|")[0],
    )
    .filter((w) => w !== "");
}

const ALL = commands();

/** htc's arguments of each htc command line. */
function htcLines(): { line: number; args: string[] }[] {
  const found: { line: number; args: string[] }[] = [];
  for (const { line, words } of ALL) {
    const at =
      words[0] === "htc"
        ? 1
        : words[0] === "npx" && words[1] === "htc"
          ? 2
          : words[0] === "node" && words[1] === "/opt/htc/runtime/client.js"
            ? 2
            : -1;
    if (at >= 0) found.push({ line, args: example(words.slice(at)) });
  }
  return found;
}

/** Flags after `--` of each `npm run <script> -- ...` line. */
function scriptFlags(script: string): { line: number; args: string[] }[] {
  return ALL.flatMap(({ line, words }) => {
    const at = words.findIndex((w, i) => w === "run" && words[i - 1] === "npm" && words[i + 1] === script);
    if (at < 0 || words[at + 2] !== "--") return [];
    return [{ line, args: example(words.slice(at + 3)) }];
  });
}

describe("the README's commands", () => {
  it("finds the command lines it checks (the extraction works)", () => {
    expect(htcLines().length).toBeGreaterThan(20);
    expect(scriptFlags("local").length).toBeGreaterThanOrEqual(2);
    expect(scriptFlags("generate").length).toBeGreaterThanOrEqual(2);
    expect(split(`a 'b c' $(d e)/32 # f`)).toEqual([["a", "b c", "$(d e)/32"]]);
    expect(split("a > x && b | c")).toEqual([["a"], ["b"], ["c"]]);
    expect(example(["results", "SESSION", "[--format", "json|ndjson]", "[--tasks", "N]"])).toEqual([
      "results",
      "SESSION",
      "--format",
      "json",
      "--tasks",
      "N",
    ]);
  });

  it("name only npm scripts package.json defines", () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts);
    const unknown = [...README.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)]
      .map((m) => m[1])
      .filter((name) => !scripts.includes(name));
    expect(unknown).toEqual([]);
  });

  it("give htc commands it has and flags it accepts", () => {
    const commandsOfHtc = commandNames();
    const wrong: string[] = [];
    for (const { line, args } of htcLines()) {
      let parsed;
      try {
        parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
      } catch (error) {
        wrong.push(`line ${line}: htc ${args.join(" ")}: ${(error as Error).message.split("\n")[0]}`);
        continue;
      }
      const command = parsed.positionals[0];
      if (command !== undefined && !commandsOfHtc.includes(command))
        wrong.push(`line ${line}: htc has no command ${JSON.stringify(command)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("give npm run local and npm run generate flags their scripts accept", () => {
    const wrong: string[] = [];
    for (const [script, entry] of [
      ["local", "local.js"],
      ["generate", "generate.js"],
    ]) {
      for (const { line, args } of scriptFlags(script)) {
        // The script's own parser: with --help it prints its usage (exit 0) once the flags parse, exit 2 if not.
        const run = spawnSync(
          process.execPath,
          [join(REPO_ROOT, "dist", "scripts", entry), ...args, "--help"],
          {
            encoding: "utf8",
            timeout: 60_000,
          },
        );
        if (run.status !== 0)
          wrong.push(`line ${line}: npm run ${script} -- ${args.join(" ")}: ${run.stderr}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  describe("cdktf deploy and destroy", () => {
    const outdir = mkdtempSync(join(tmpdir(), "htc-readme-"));
    afterAll(() => rmSync(outdir, { recursive: true, force: true }));

    it("name every stack cdktf requires with the ones named", () => {
      const app = new App({ outdir });
      buildGridApp(app, gridConfig({}));
      app.synth();
      const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
        stacks: Record<string, { dependencies: string[] }>;
      };
      const dependencies = (stack: string) => manifest.stacks[stack]?.dependencies ?? [];
      const dependants = (stack: string) =>
        Object.keys(manifest.stacks).filter((s) => dependencies(s).includes(stack));
      const lines = ALL.filter(
        ({ words }) =>
          words[0] === "npx" && words[1] === "cdktf" && /^(deploy|destroy)$/.test(words[2] ?? ""),
      );
      expect(lines.length).toBeGreaterThanOrEqual(3);
      const wrong: string[] = [];
      for (const { line, words } of lines) {
        if (words.includes("--ignore-missing-stack-dependencies")) continue;
        const named = words
          .slice(3)
          .filter((w) => !w.startsWith("-") && !w.includes("/") && !w.includes("."));
        for (const stack of named) {
          if (!(stack in manifest.stacks)) wrong.push(`line ${line}: no stack ${stack}`);
          const needed = words[2] === "deploy" ? dependencies(stack) : dependants(stack);
          for (const other of needed) {
            if (!named.includes(other))
              wrong.push(`line ${line}: cdktf ${words[2]} ${stack} needs ${other} named too`);
          }
        }
      }
      expect(wrong).toEqual([]);
      // The check itself: `cdktf deploy grid` alone is what cdktf refuses.
      expect(dependencies("grid").sort()).toEqual(["bootstrap", "images"]);
    }, 120_000);
  });
});
