// Finds the references inside Terraform template strings (`${...}` and `%{...}`) of synthesized JSON,
// including those written through escape hatches (addOverride, raw Fn strings), so a checker can
// resolve each one against the resources and schemas it knows.

/** One reference: `aws_s3_bucket.b[0].arn` is root `aws_s3_bucket`, steps `["b", "[]", "arn"]`. */
export interface Traversal {
  readonly root: string;
  /** Attribute names, with `[]` standing for any index, splat or key. */
  readonly steps: readonly string[];
  readonly text: string;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_-]/;

/** All references in a JSON string value (an empty list when it holds no template sequence). */
export function templateReferences(value: string): Traversal[] {
  const out: Traversal[] = [];
  scanTemplate(value, 0, false, out);
  return out;
}

/**
 * Scans template text from `start`; when `quoted`, stops after the closing quote of an HCL string
 * nested in an expression. Returns the index after the scanned part.
 */
function scanTemplate(s: string, start: number, quoted: boolean, out: Traversal[]): number {
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (quoted && c === "\\") {
      i += 2;
      continue;
    }
    if (quoted && c === '"') return i + 1;
    if ((c === "$" || c === "%") && s[i + 1] === "{") {
      if (s[i + 2] === undefined) return s.length;
      // `$${` / `%%{` are escapes for a literal `${` / `%{`; in a run of sigils the last two form the escape
      // (Terraform reads `$$${x}` as "$" followed by a literal "${x}").
      if (s[i - 1] === c && i - 1 >= start) {
        i += 2;
        continue;
      }
      i = scanExpression(s, i + 2, out);
      continue;
    }
    i++;
  }
  return i;
}

/** Scans an expression up to its closing `}`, collecting references. Returns the index after it. */
function scanExpression(s: string, start: number, out: Traversal[]): number {
  let depth = 0;
  let i = start;
  const forVars = new Set<string>();
  const found: Traversal[] = [];
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      i = scanTemplate(s, i + 1, true, found);
      continue;
    }
    if (c === "{" || c === "(" || c === "[") depth++;
    if (c === ")" || c === "]") depth--;
    if (c === "}") {
      if (depth === 0) {
        i++;
        break;
      }
      depth--;
    }
    if (IDENT_START.test(c) && !IDENT.test(s[i - 1] ?? " ") && s[i - 1] !== ".") {
      const t = readTraversal(s, i);
      i = t.end;
      if (t.root === "for") {
        // `for k, v in ...`: the iterator names are local to the expression.
        const m = /^\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*))?\s+in\b/.exec(s.slice(i));
        if (m) {
          forVars.add(m[1]);
          if (m[2]) forVars.add(m[2]);
        }
        continue;
      }
      // A bare word (keyword, iterator, object key) or a function call (`jsonencode(`) is no reference.
      if (t.steps.length === 0) continue;
      found.push(t);
      continue;
    }
    i++;
  }
  for (const t of found) if (!forVars.has(t.root)) out.push(t);
  return i;
}

function readTraversal(s: string, start: number): Traversal & { end: number } {
  let i = start;
  while (i < s.length && IDENT.test(s[i])) i++;
  const root = s.slice(start, i);
  const steps: string[] = [];
  for (;;) {
    if (s[i] === "." && s[i + 1] === "*") {
      steps.push("[]");
      i += 2;
    } else if (s[i] === "." && /[A-Za-z_]/.test(s[i + 1] ?? "")) {
      let j = i + 1;
      while (j < s.length && IDENT.test(s[j])) j++;
      steps.push(s.slice(i + 1, j));
      i = j;
    } else if (s[i] === "." && /[0-9]/.test(s[i + 1] ?? "")) {
      let j = i + 1;
      while (j < s.length && /[0-9]/.test(s[j])) j++;
      steps.push("[]");
      i = j;
    } else if (s[i] === "[") {
      let depth = 0;
      let j = i;
      for (; j < s.length; j++) {
        if (s[j] === "[") depth++;
        if (s[j] === "]" && --depth === 0) break;
      }
      steps.push("[]");
      i = j + 1;
    } else break;
  }
  return { root, steps, text: s.slice(start, i), end: i };
}
