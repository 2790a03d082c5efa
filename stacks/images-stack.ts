// Images: ECR repositories for the grid's images and pull-through cache rules for public registries.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { GridImages } from "../modules/images/grid-images";
import { GridNames } from "../modules/naming/names";
import { STACK_NAMES, applyBackend, gridAwsProvider } from "./common";

export interface ImagesStackProps {
  readonly config: GridConfig;
}

export class ImagesStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;
  public readonly images: GridImages;

  constructor(scope: Construct, id: string, props: ImagesStackProps) {
    super(scope, id);
    const { config } = props;
    applyBackend(this, config.backend, STACK_NAMES.images);
    gridAwsProvider(this, config);
    this.names = new GridNames(config.projectName);
    this.account = new AccountContext(this, "account", { region: config.region });
    this.images = new GridImages(this, "images", {
      names: this.names,
      account: this.account,
      kms: config.kms,
      immutableTags: config.ecrImmutableTags,
      allowDestroy: config.allowDestroy,
      ghcrCredentialSecret: config.ghcrCredentialSecret,
    });
  }
}
