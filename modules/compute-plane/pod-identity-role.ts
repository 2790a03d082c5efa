// An IAM role for one Kubernetes service account, handed to its pods through EKS Pod Identity. The trust policy
// only admits sessions whose Pod Identity tags name this cluster, namespace and service account, so the role is
// useless to any other association in the account even if one were created by mistake.
import { Construct } from "constructs";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";

/** The service principal EKS Pod Identity assumes roles with. */
export const POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com";

/** An IAM policy document (JSON-serializable). */
export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: Record<string, unknown>[];
}

export interface PodIdentityRoleProps {
  /** EKS cluster name (a literal or a reference to the cluster's name). */
  readonly clusterName: string;
  /** Namespace of the service account. */
  readonly namespace: string;
  /** Service account name. */
  readonly serviceAccount: string;
  /** Physical role name (from `GridNames`). */
  readonly roleName: string;
  /** Shown in the IAM console. */
  readonly description: string;
  /** Inline policies by name. @default {} */
  readonly inlinePolicies?: Record<string, PolicyDocument | string>;
  /** AWS-managed policy ARNs to attach. @default [] */
  readonly managedPolicyArns?: string[];
  /**
   * Create the `aws_eks_pod_identity_association`. False when an EKS add-on creates the association itself
   * (its `pod_identity_association` block). @default true
   */
  readonly createAssociation?: boolean;
}

/** The role, its policies and (by default) the Pod Identity association naming namespace and service account. */
export class PodIdentityRole extends Construct {
  public readonly role: IamRole;
  /** Undefined when `createAssociation` is false. */
  public readonly association?: EksPodIdentityAssociation;
  public readonly namespace: string;
  public readonly serviceAccount: string;
  /** Inline policies attached so far (releases depend on them). */
  public readonly policies: IamRolePolicy[] = [];

  constructor(scope: Construct, id: string, props: PodIdentityRoleProps) {
    super(scope, id);
    this.namespace = props.namespace;
    this.serviceAccount = props.serviceAccount;
    this.role = new IamRole(this, "role", {
      name: props.roleName,
      description: props.description,
      assumeRolePolicy: JSON.stringify(podIdentityTrustPolicy(props)),
    });
    for (const [name, document] of Object.entries(props.inlinePolicies ?? {})) {
      this.addPolicy(name, document);
    }
    (props.managedPolicyArns ?? []).forEach((arn, i) => {
      new IamRolePolicyAttachment(this, `managed-${i}`, { role: this.role.name, policyArn: arn });
    });
    if (props.createAssociation ?? true) {
      this.association = new EksPodIdentityAssociation(this, "association", {
        clusterName: props.clusterName,
        namespace: props.namespace,
        serviceAccount: props.serviceAccount,
        roleArn: this.role.arn,
      });
    }
  }

  /**
   * Attach an inline policy. Used by constructs that know the resources the workload touches (the agent policy is
   * built by whoever owns the tables, queues and buckets). Returns the policy so releases can depend on it.
   */
  addPolicy(name: string, document: PolicyDocument | string): IamRolePolicy {
    const policy = new IamRolePolicy(this, `policy-${name}`, {
      name,
      role: this.role.name,
      policy: typeof document === "string" ? document : JSON.stringify(document),
    });
    this.policies.push(policy);
    return policy;
  }
}

/** Trust policy: EKS Pod Identity may assume the role only for this cluster / namespace / service account. */
export function podIdentityTrustPolicy(target: {
  clusterName: string;
  namespace: string;
  serviceAccount: string;
}): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "EksPodIdentity",
        Effect: "Allow",
        Principal: { Service: POD_IDENTITY_PRINCIPAL },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-name": target.clusterName,
            "aws:RequestTag/kubernetes-namespace": target.namespace,
            "aws:RequestTag/kubernetes-service-account": target.serviceAccount,
          },
        },
      },
    ],
  };
}
