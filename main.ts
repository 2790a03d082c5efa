// cdktf app entry point: load and validate the grid configuration once, then synthesize every stack.
// A rejected configuration exits non-zero before anything is written under cdktf.out/.
import { ConfigError, loadGridConfig } from "./modules/config/load";

async function main(): Promise<void> {
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
  // cdktf and the provider bindings are loaded only for an accepted configuration: they are most of the start-up
  // time, and a rejected file should be answered at once.
  const { App } = await import("cdktf");
  const { buildGridApp } = await import("./stacks/app");
  try {
    const app = new App();
    buildGridApp(app, loaded.config);
    app.synth();
  } catch (e) {
    // An output directory that cannot be written (CDKTF_OUTDIR, cdktf.out/) is the environment's problem: one line.
    const err = e as NodeJS.ErrnoException;
    if (err.code === undefined) throw e;
    console.error(`htc-grid: cannot write the synthesized stacks: ${err.code} (${err.message})`);
    process.exit(1);
  }
}

void main();
