// `node client.js <command> ...`: the `htc` command as one bundled file (`runtime/client.js` in the workload bucket),
// which the submission jobs and the chart's `helm test` pod run on the stock Node.js image after their fetch step.
// The same command as runtime/bin/htc.js, without its compile step: the bundle carries everything it needs.

import { run } from "./cli";

// The SDK warns on Node 20 about its releases after January 2027; the bundle pins its SDK versions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
run();
