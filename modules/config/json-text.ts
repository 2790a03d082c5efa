// What JSON.parse does not tell: the same key given twice in one object (JSON.parse silently keeps the last), with
// the JSON path and both line numbers. Runs on text JSON.parse has already accepted.

/** One key given more than once in the same object. */
export interface DuplicateKey {
  /** JSON path of the key, e.g. `agent_configuration.lambda.runtime` or `eks_worker_groups[1].name`. */
  readonly path: string;
  /** Line of the first occurrence (1-based). */
  readonly firstLine: number;
  /** Line of the repeated occurrence (1-based). */
  readonly line: number;
}

/** Every repeated key in a syntactically valid JSON text, in document order. */
export function findDuplicateKeys(text: string): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  let i = 0;
  let line = 1;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) {
      if (text[i] === "\n") line++;
      i++;
    }
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const join = (path: string, key: string | number) =>
    typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
  const value = (path: string): void => {
    skipSpace();
    const c = text[i];
    if (c === "{") {
      i++;
      const seen = new Map<string, number>();
      skipSpace();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        const keyLine = line;
        const key = readString();
        const first = seen.get(key);
        if (first !== undefined) out.push({ path: join(path, key), firstLine: first, line: keyLine });
        else seen.set(key, keyLine);
        skipSpace();
        i++; // ':'
        value(join(path, key));
        skipSpace();
        if (text[i++] === "}") return;
      }
    }
    if (c === "[") {
      i++;
      skipSpace();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        value(join(path, index));
        skipSpace();
        if (text[i++] === "]") return;
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    // number, true, false, null
    while (i < text.length && /[^\s,\]}]/.test(text[i])) i++;
  };
  value("");
  return out;
}
