// Composes the four stacks of one grid in deploy order: bootstrap, images, grid, grid-k8s.
import type { App } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { BootstrapStack } from "./bootstrap-stack";
import { STACK_NAMES } from "./common";
import { GridK8sStack } from "./grid-k8s-stack";
import { GridStack } from "./grid-stack";
import { ImagesStack } from "./images-stack";

export interface GridApp {
  readonly bootstrap: BootstrapStack;
  readonly images: ImagesStack;
  readonly grid: GridStack;
  readonly gridK8s: GridK8sStack;
}

export function buildGridApp(app: App, config: GridConfig): GridApp {
  const bootstrap = new BootstrapStack(app, STACK_NAMES.bootstrap, { config });
  const images = new ImagesStack(app, STACK_NAMES.images, { config });
  const grid = new GridStack(app, STACK_NAMES.grid, { config });
  // The grid reads what these two create without a cross-stack reference (the workload bucket and its key, the
  // pull-through cache policy, by name), so the order is declared: cdktf deploys bootstrap and images first and
  // destroys them last.
  grid.addDependency(bootstrap);
  grid.addDependency(images);
  const gridK8s = new GridK8sStack(app, STACK_NAMES.gridK8s, { config, grid });
  return { bootstrap, images, grid, gridK8s };
}
