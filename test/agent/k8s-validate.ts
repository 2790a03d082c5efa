// Validates rendered objects: core kinds against the Kubernetes API schemas (kubernetes-models), KEDA
// kinds with a structural check of our own (kubernetes-models has no CRD schemas). Neither flags
// unknown fields in core kinds; the KEDA check does.
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Pod } from "kubernetes-models/v1/Pod";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

type Obj = Record<string, unknown>;
type ModelClass = new (data: never) => { validate(): void };

const CORE_MODELS: Record<string, ModelClass> = {
  "apps/v1/Deployment": Deployment as unknown as ModelClass,
  "batch/v1/Job": Job as unknown as ModelClass,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as ModelClass,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as ModelClass,
  "v1/Pod": Pod as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
};

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function assertKeys(where: string, value: Obj, allowed: string[]): void {
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new Error(`${where}: unknown field(s) ${unknown.join(", ")}`);
}

function assertName(where: string, v: unknown): void {
  if (typeof v !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) || v.length > 253) {
    throw new Error(`${where} must be a DNS-1123 name, got ${JSON.stringify(v)}`);
  }
}

function assertCount(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
    throw new Error(`${where} must be a non-negative integer`);
  return v;
}

/** keda.sh/v1alpha1 ScaledObject: the fields this chart uses, checked against KEDA's documented types. */
function checkScaledObject(obj: Obj): void {
  const spec = obj.spec;
  if (!isObj(spec)) throw new Error("ScaledObject.spec missing");
  assertKeys("ScaledObject.spec", spec, [
    "scaleTargetRef",
    "minReplicaCount",
    "maxReplicaCount",
    "pollingInterval",
    "cooldownPeriod",
    "idleReplicaCount",
    "fallback",
    "advanced",
    "triggers",
  ]);
  const ref = spec.scaleTargetRef;
  if (!isObj(ref)) throw new Error("ScaledObject.spec.scaleTargetRef missing");
  assertKeys("ScaledObject.spec.scaleTargetRef", ref, [
    "apiVersion",
    "kind",
    "name",
    "envSourceContainerName",
  ]);
  assertName("ScaledObject.spec.scaleTargetRef.name", ref.name);
  const min = assertCount("ScaledObject.spec.minReplicaCount", spec.minReplicaCount);
  const max = assertCount("ScaledObject.spec.maxReplicaCount", spec.maxReplicaCount);
  if (min > max) throw new Error(`ScaledObject minReplicaCount ${min} > maxReplicaCount ${max}`);
  for (const f of ["pollingInterval", "cooldownPeriod"] as const) {
    if (spec[f] !== undefined) assertCount(`ScaledObject.spec.${f}`, spec[f]);
  }
  if (!Array.isArray(spec.triggers) || spec.triggers.length === 0)
    throw new Error("ScaledObject.spec.triggers must be a non-empty list");
  spec.triggers.forEach((trigger: unknown, i: number) => {
    const where = `ScaledObject.spec.triggers[${i}]`;
    if (!isObj(trigger)) throw new Error(`${where} must be an object`);
    assertKeys(where, trigger, [
      "type",
      "name",
      "metadata",
      "authenticationRef",
      "metricType",
      "useCachedMetrics",
    ]);
    if (typeof trigger.type !== "string" || trigger.type === "") throw new Error(`${where}.type missing`);
    if (!isObj(trigger.metadata)) throw new Error(`${where}.metadata must be a map`);
    // KEDA's CRD types trigger metadata as map[string]string: a YAML number here is rejected by the API server.
    for (const [k, v] of Object.entries(trigger.metadata)) {
      if (typeof v !== "string")
        throw new Error(`${where}.metadata.${k} must be a string, got ${JSON.stringify(v)}`);
    }
    if (trigger.authenticationRef !== undefined) {
      if (!isObj(trigger.authenticationRef)) throw new Error(`${where}.authenticationRef must be an object`);
      assertKeys(`${where}.authenticationRef`, trigger.authenticationRef, ["name", "kind"]);
      assertName(`${where}.authenticationRef.name`, trigger.authenticationRef.name);
    }
  });
}

/** keda.sh/v1alpha1 TriggerAuthentication using pod identity only (no secrets). */
function checkTriggerAuthentication(obj: Obj): void {
  const spec = obj.spec;
  if (!isObj(spec)) throw new Error("TriggerAuthentication.spec missing");
  assertKeys("TriggerAuthentication.spec", spec, [
    "podIdentity",
    "secretTargetRef",
    "env",
    "hashiCorpVault",
    "azureKeyVault",
    "awsSecretManager",
  ]);
  const identity = spec.podIdentity;
  if (!isObj(identity)) throw new Error("TriggerAuthentication.spec.podIdentity missing");
  assertKeys("TriggerAuthentication.spec.podIdentity", identity, [
    "provider",
    "roleArn",
    "identityOwner",
    "identityId",
  ]);
  if (!["none", "aws", "aws-eks", "azure-workload", "gcp"].includes(String(identity.provider))) {
    throw new Error(
      `TriggerAuthentication podIdentity.provider ${JSON.stringify(identity.provider)} is not a KEDA provider`,
    );
  }
  if (
    identity.identityOwner !== undefined &&
    !["keda", "workload"].includes(String(identity.identityOwner))
  ) {
    throw new Error(`TriggerAuthentication podIdentity.identityOwner must be keda or workload`);
  }
  if (identity.roleArn !== undefined && identity.identityOwner !== undefined) {
    throw new Error("TriggerAuthentication podIdentity.roleArn and identityOwner are mutually exclusive");
  }
}

const KEDA_CHECKS: Record<string, (obj: Obj) => void> = {
  "keda.sh/v1alpha1/ScaledObject": checkScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": checkTriggerAuthentication,
};

/** Throws when the object is not valid for its kind, or its kind is not one this project renders. */
export function validateKubernetesObject(obj: Obj): void {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const metadata = obj.metadata;
  if (!isObj(metadata)) throw new Error(`${key}: metadata missing`);
  assertName(`${key} metadata.name`, metadata.name);
  const model = CORE_MODELS[key];
  if (model) {
    new model(obj as never).validate();
    return;
  }
  const check = KEDA_CHECKS[key];
  if (!check) throw new Error(`no schema known for ${key}`);
  check(obj);
}
