// The one escaping step between configuration and Terraform. cdktf writes strings into cdk.tf.json as they are, and
// Terraform evaluates `${...}` and `%{...}` in every string of a JSON configuration (object keys included) at plan
// time: a tag value `${file("...")}` would read a file on the planner's machine. Every string of the normalized
// model goes through here once, so whatever the file says reaches AWS, Kubernetes or Helm as written.
//
// Values that are meant to be Terraform expressions never pass through: cdktf tokens are made by constructs after
// this step, and the `{{account_id}}` placeholder is replaced by a token by the construct that reads it (its
// braces are not template syntax).

/** `text` as a Terraform template that evaluates to exactly `text`: `${` becomes `$${`, `%{` becomes `%%{`. */
export function terraformLiteral(text: string): string {
  return text.replace(/([$%])\{/g, "$1$1{");
}

/** A deep copy of a JSON-like value with every string, and every object key, escaped by terraformLiteral. */
export function terraformLiterals<T>(value: T): T {
  if (typeof value === "string") return terraformLiteral(value) as T;
  if (Array.isArray(value)) return value.map((v) => terraformLiterals(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        terraformLiteral(k),
        terraformLiterals(v),
      ]),
    ) as T;
  }
  return value;
}
