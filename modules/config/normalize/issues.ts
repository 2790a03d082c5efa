// How the normalizer reports problems: one issue per problem, addressed by its JSON path, collected rather than
// thrown so that a rejected file lists every problem at once.

/** One configuration problem: JSON path, what is wrong, the bad value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Records one problem at a JSON path. */
export type IssueSink = (path: string, message: string) => void;

/** Environment the entry point passes in (constructs never read the environment). */
export interface ConfigEnvironment {
  readonly [name: string]: string | undefined;
}

/** A value as it appears in a message: JSON, shortened to 80 characters. */
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Parse upstream's single-quoted pseudo-JSON (`{'priorities':3}`) into a value. */
export function parseLooseJson(text: string): unknown {
  return JSON.parse(text.replace(/'/g, '"'));
}

/** A number written as a number or a numeric string (upstream writes "800"); `fallback` when absent. */
export function toNumber(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === "number" ? value : Number(value);
}

/** Upstream's 0/1/"0"/"1"/boolean flags. */
export function flag(value: 0 | 1 | "0" | "1" | boolean): boolean {
  return value === true || value === 1 || value === "1";
}
