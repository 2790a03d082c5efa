// Reads the literal HCL value inside a synthesized `${jsonencode(...)}` expression (what cdktf's
// Fn.jsonencode writes), so inline IAM policies built that way can be inspected like JSON ones.
// References and function calls inside it come back as `${...}` strings.

export type HclValue = null | boolean | number | string | HclValue[] | { [key: string]: HclValue };

/** Parses `${jsonencode(<value>)}`; returns undefined for any other string or an unsupported form. */
export function parseJsonencode(expression: string): HclValue | undefined {
  const m = /^\$\{\s*jsonencode\(([\s\S]*)\)\s*\}$/.exec(expression);
  if (!m) return undefined;
  try {
    const p = new Parser(m[1]);
    const value = p.value();
    p.skipSpace();
    return p.atEnd() ? value : undefined;
  } catch {
    return undefined;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    while (this.i < this.s.length && /[\s]/.test(this.s[this.i])) this.i++;
  }

  value(): HclValue {
    this.skipSpace();
    const c = this.s[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.tuple();
    if (c === '"') return this.string();
    if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(this.s.slice(this.i));
      if (!m) throw new Error("bad number");
      this.i += m[0].length;
      return Number(m[0]);
    }
    const start = this.i;
    const word = this.word();
    if (word === "true") return true;
    if (word === "false") return false;
    if (word === "null") return null;
    // A traversal or function call: keep its source text as an interpolation.
    this.skipTraversalTail();
    return `\${${this.s.slice(start, this.i)}}`;
  }

  private word(): string {
    const m = /^[A-Za-z_][\w-]*/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`unexpected "${this.s[this.i]}" at ${this.i}`);
    this.i += m[0].length;
    return m[0];
  }

  private skipTraversalTail(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === "." && /[A-Za-z_*0-9]/.test(this.s[this.i + 1] ?? "")) {
        this.i++;
        if (this.s[this.i] === "*") this.i++;
        else this.i += /^[\w-]+/.exec(this.s.slice(this.i))?.[0].length ?? 0;
      } else if (c === "[" || c === "(") {
        this.skipBalanced();
      } else return;
    }
  }

  private skipBalanced(): void {
    let depth = 0;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s[this.i];
      if (c === '"') {
        this.string();
        this.i--;
      } else if (c === "[" || c === "(" || c === "{") depth++;
      else if (c === "]" || c === ")" || c === "}") {
        if (--depth === 0) {
          this.i++;
          return;
        }
      }
    }
    throw new Error("unbalanced");
  }

  private string(): string {
    this.i++; // opening quote
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === "\\") {
        const n = this.s[this.i + 1];
        out += n === "n" ? "\n" : n === "t" ? "\t" : n === "r" ? "\r" : n;
        this.i += 2;
        continue;
      }
      if (c === '"') {
        this.i++;
        return out;
      }
      if ((c === "$" || c === "%") && this.s[this.i + 1] === "{") {
        // Template sequence inside a string: copy it through verbatim.
        const start = this.i;
        this.i++;
        this.skipBalanced();
        out += this.s.slice(start, this.i);
        continue;
      }
      out += c;
      this.i++;
    }
    throw new Error("unterminated string");
  }

  private tuple(): HclValue[] {
    this.i++;
    const items: HclValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] === "]") {
        this.i++;
        return items;
      }
      items.push(this.value());
      this.skipSpace();
      if (this.s[this.i] === ",") this.i++;
    }
  }

  private object(): { [key: string]: HclValue } {
    this.i++;
    const out: { [key: string]: HclValue } = {};
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] === "}") {
        this.i++;
        return out;
      }
      const key = this.s[this.i] === '"' ? this.string() : this.word();
      this.skipSpace();
      if (this.s[this.i] !== "=" && this.s[this.i] !== ":") throw new Error(`expected = after key ${key}`);
      this.i++;
      out[key] = this.value();
      this.skipSpace();
      if (this.s[this.i] === ",") this.i++;
    }
  }
}
