// cdktf app entry point: load and validate the grid configuration once, then synthesize every stack.
// A rejected configuration exits non-zero before anything is written under cdktf.out/.
import { App } from "cdktf";
import { ConfigError, loadGridConfig } from "./modules/config/load";
import { buildGridApp } from "./stacks/app";

function main(): void {
  let loaded;
  try {
    loaded = loadGridConfig(process.env, process.cwd());
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`htc-grid: configuration rejected: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
  console.log(
    `htc-grid: using grid configuration from ${loaded.source} (project ${loaded.config.projectName}, region ${loaded.config.region})`,
  );
  const app = new App();
  buildGridApp(app, loaded.config);
  app.synth();
}

main();
