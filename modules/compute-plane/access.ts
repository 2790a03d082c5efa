// Cluster access for the configured IAM roles through EKS access entries (authentication mode API; no aws-auth
// ConfigMap). Upstream mapped roles into aws-auth with Kubernetes groups verbatim, `system:masters` included; EKS
// access entries reject `system:` groups, so reserved groups are translated into EKS access policies instead.
import { Construct } from "constructs";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import type { AccountContext } from "../account/account-context";
import type { InputRole } from "../config/model";

/**
 * Reserved Kubernetes groups and the EKS access policy (cluster scope) that grants the same rights. The config layer
 * refuses any other reserved group (it names something EKS manages itself and has no access-policy equivalent) and
 * user names with a prefix EKS reserves.
 */
export const SYSTEM_GROUP_ACCESS_POLICIES: Readonly<Record<string, string>> = {
  "system:masters": "AmazonEKSClusterAdminPolicy",
};

/** What one configured role turns into: the entry's groups and the access policies associated with it. */
export interface AccessGrant {
  readonly kubernetesGroups: string[];
  /** Access policy names (`arn:<partition>:eks::aws:cluster-access-policy/<name>`), cluster scope. */
  readonly accessPolicies: string[];
}

/** Translate one `input_role` entry (checked by the config layer). */
export function accessGrantFor(role: InputRole): AccessGrant {
  const kubernetesGroups: string[] = [];
  const accessPolicies: string[] = [];
  for (const group of role.groups) {
    if (!group.startsWith("system:")) {
      if (!kubernetesGroups.includes(group)) kubernetesGroups.push(group);
      continue;
    }
    const policy = SYSTEM_GROUP_ACCESS_POLICIES[group];
    if (policy !== undefined && !accessPolicies.includes(policy)) accessPolicies.push(policy);
  }
  return { kubernetesGroups, accessPolicies };
}

export interface ClusterAccessProps {
  /** Cluster name (reference to the cluster, so entries wait for it). */
  readonly clusterName: string;
  readonly inputRoles: InputRole[];
  readonly account: AccountContext;
}

/** One access entry per configured role, plus its access-policy associations. */
export class ClusterAccess extends Construct {
  public readonly entries: EksAccessEntry[] = [];
  public readonly policyAssociations: EksAccessPolicyAssociation[] = [];

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    const { account } = props;
    props.inputRoles.forEach((role, i) => {
      const grant = accessGrantFor(role);
      const roleScope = new Construct(this, `role-${i}`);
      const entry = new EksAccessEntry(roleScope, "entry", {
        clusterName: props.clusterName,
        principalArn: account.resolveAccountPlaceholder(role.roleArn),
        userName: role.username,
        kubernetesGroups: grant.kubernetesGroups.length > 0 ? grant.kubernetesGroups : undefined,
        type: "STANDARD",
      });
      this.entries.push(entry);
      for (const policy of grant.accessPolicies) {
        this.policyAssociations.push(
          new EksAccessPolicyAssociation(roleScope, `policy-${policy}`, {
            clusterName: props.clusterName,
            // The entry's own attribute, so the association waits for the entry.
            principalArn: entry.principalArn,
            policyArn: `arn:${account.partition}:eks::aws:cluster-access-policy/${policy}`,
            accessScope: { type: "cluster" },
          }),
        );
      }
    });
  }
}
