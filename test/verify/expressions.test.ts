import { describe, expect, it } from "vitest";
import { templateReferences } from "./expressions";

const refs = (s: string) => templateReferences(s).map((t) => [t.root, ...t.steps].join("."));

describe("templateReferences", () => {
  it("finds a plain resource attribute reference", () => {
    expect(refs("${aws_s3_bucket.bucket.arn}")).toEqual(["aws_s3_bucket.bucket.arn"]);
  });

  it("finds references embedded in literal text and marks indexes and splats", () => {
    expect(
      refs(
        "arn:${aws_s3_bucket.b[0].arn}/*:${aws_eks_cluster.c.certificate_authority.0.data}:${aws_x.y.*.id}",
      ),
    ).toEqual(["aws_s3_bucket.b.[].arn", "aws_eks_cluster.c.certificate_authority.[].data", "aws_x.y.[].id"]);
  });

  it("skips function names and object keys but keeps references in arguments", () => {
    expect(refs('${jsonencode({"Resource" = aws_sqs_queue.q.arn, Sid = "x"})}')).toEqual([
      "aws_sqs_queue.q.arn",
    ]);
  });

  it("follows nested template strings inside an expression", () => {
    expect(refs('${join(",", ["${var.a}-x", local.b])}')).toEqual(["var.a", "local.b"]);
  });

  it("ignores escaped template sequences", () => {
    expect(refs("$${aws_s3_bucket.literal.arn} and %%{ if x }")).toEqual([]);
  });

  it("reads a run of sigils as Terraform does: the last two are the escape", () => {
    expect(refs("$$${aws_s3_bucket.literal.arn} $$$${x.y.z}")).toEqual([]);
  });

  it("drops for-expression iterator variables", () => {
    expect(refs("${[for k, item in var.m : item.id if k != each.key]}")).toEqual(["var.m", "each.key"]);
  });

  it("returns nothing for a string without templates", () => {
    expect(refs("plain {json} text")).toEqual([]);
  });
});
