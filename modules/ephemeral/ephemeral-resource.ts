// Terraform ephemeral resources (Terraform >= 1.10), which cdktf 0.21 does not model: their values exist only
// during a plan or apply and are never written to state or plan files. They may feed write-only arguments
// (`*_wo`, Terraform >= 1.11), provider configuration and other ephemeral resources, nothing else; Terraform
// refuses any other use at validate time.
import { Construct } from "constructs";
import { TerraformElement, Token, ref } from "cdktf";

/** One `ephemeral "<type>" "<name>"` block; read its attributes with `attribute()`. */
export class EphemeralResource extends TerraformElement {
  constructor(
    scope: Construct,
    id: string,
    /** The provider's ephemeral resource type, e.g. `aws_secretsmanager_secret_version`. */
    public readonly terraformResourceType: string,
    /** Arguments as Terraform names them (snake_case); tokens are resolved like any resource's. */
    private readonly config: Record<string, unknown>,
  ) {
    super(scope, id, `ephemeral.${terraformResourceType}`);
  }

  /** A string attribute, as a reference only write-only arguments may take. */
  attribute(name: string): string {
    return Token.asString(
      ref(`ephemeral.${this.terraformResourceType}.${this.friendlyUniqueId}.${name}`, this.cdktfStack),
    );
  }

  toTerraform(): Record<string, unknown> {
    return {
      ephemeral: {
        [this.terraformResourceType]: {
          [this.friendlyUniqueId]: { ...this.config, "//": this.constructNodeMetadata },
        },
      },
    };
  }
}

/** A password Secrets Manager generates for this run only (alphanumerics unless told otherwise). */
export function ephemeralRandomPassword(
  scope: Construct,
  id: string,
  options: { length: number; excludePunctuation: boolean },
): string {
  return new EphemeralResource(scope, id, "aws_secretsmanager_random_password", {
    password_length: options.length,
    exclude_punctuation: options.excludePunctuation,
    include_space: false,
  }).attribute("random_password");
}

/** The current value of a Secrets Manager secret, read for this run only. */
export function ephemeralSecretString(scope: Construct, id: string, secretId: string): string {
  return new EphemeralResource(scope, id, "aws_secretsmanager_secret_version", {
    secret_id: secretId,
  }).attribute("secret_string");
}
