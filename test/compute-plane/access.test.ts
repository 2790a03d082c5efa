import { beforeAll, describe, expect, it } from "vitest";
import { accessGrantFor } from "../../modules/compute-plane/access";
import { computePlaneOn, gridConfig, gridScaffold, ofType, synthResources } from "./fixture";

const INPUT_ROLES = [
  { rolearn: "arn:aws:iam::{{account_id}}:role/Admin", username: "admin", groups: ["system:masters"] },
  { rolearn: "arn:aws:iam::123456789012:role/Viewer", username: "viewer", groups: ["grid-viewers", "ops"] },
  { rolearn: "arn:aws:iam::123456789012:role/Mixed", username: "mixed", groups: ["system:masters", "ops"] },
];

function build(inputRoles: unknown[]) {
  const config = gridConfig({ input_role: inputRoles });
  const s = gridScaffold(config);
  computePlaneOn(s, config);
  return synthResources(s.stack);
}

describe("access entries", () => {
  let r: ReturnType<typeof build>;
  beforeAll(() => {
    r = build(INPUT_ROLES);
  });

  it("creates one access entry per input role", () => {
    expect(ofType(r.resources, "aws_eks_access_entry")).toHaveLength(INPUT_ROLES.length);
  });

  it("resolves {{account_id}} in role ARNs to the deploying account", () => {
    const admin = ofType(r.resources, "aws_eks_access_entry").find((e) => e.user_name === "admin")!;
    expect(admin.principal_arn).toMatch(
      /^arn:aws:iam::\$\{data\.aws_caller_identity\.[\w]+\.account_id\}:role\/Admin$/,
    );
  });

  it("never passes system: groups to an access entry", () => {
    for (const entry of ofType(r.resources, "aws_eks_access_entry")) {
      for (const group of (entry.kubernetes_groups as string[] | undefined) ?? []) {
        expect(group.startsWith("system:")).toBe(false);
      }
    }
  });

  it("keeps the role's ordinary groups", () => {
    const viewer = ofType(r.resources, "aws_eks_access_entry").find((e) => e.user_name === "viewer")!;
    expect(viewer.kubernetes_groups).toEqual(["grid-viewers", "ops"]);
    const mixed = ofType(r.resources, "aws_eks_access_entry").find((e) => e.user_name === "mixed")!;
    expect(mixed.kubernetes_groups).toEqual(["ops"]);
  });

  it("maps system:masters to the cluster-admin access policy at cluster scope", () => {
    const associations = ofType(r.resources, "aws_eks_access_policy_association");
    // Admin and Mixed carry system:masters; Viewer gets no policy.
    expect(associations).toHaveLength(2);
    for (const a of associations) {
      expect(a.policy_arn).toMatch(
        /^arn:\$\{data\.aws_partition\.\w+\.partition\}:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/,
      );
      expect(a.access_scope).toEqual({ type: "cluster" });
      expect(a.principal_arn).toMatch(/^\$\{aws_eks_access_entry\.[\w-]+\.principal_arn\}$/);
    }
  });
});

describe("accessGrantFor", () => {
  it("translates system:masters into AmazonEKSClusterAdminPolicy", () => {
    expect(accessGrantFor({ roleArn: "arn", username: "u", groups: ["system:masters"] })).toEqual({
      kubernetesGroups: [],
      accessPolicies: ["AmazonEKSClusterAdminPolicy"],
    });
  });
});
