// Flat ESLint config. The provider packages must be imported per resource
// (`@cdktf/provider-aws/lib/<resource>`): the package root loads ~2,200 classes.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "cdktf.out/**",
      ".tmp/**",
      "node_modules/**",
      "generated/**",
      "**/*.d.ts",
      "coverage/**",
      "runtime/dist/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mjs"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "@cdktf/provider-aws",
              message: "Import from @cdktf/provider-aws/lib/<resource> (root import is ~12x slower).",
            },
            {
              name: "@cdktf/provider-kubernetes",
              message: "Import from @cdktf/provider-kubernetes/lib/<resource>.",
            },
            { name: "@cdktf/provider-helm", message: "Import from @cdktf/provider-helm/lib/<resource>." },
          ],
        },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // The runtime package's plain CommonJS launchers (bin/htc.js, scripts/build.js) run on Node as they are.
    files: ["runtime/bin/**/*.js", "runtime/scripts/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        process: "readonly",
        __dirname: "readonly",
        __filename: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Code that runs in the grid (handlers, agent, worker host, client, workers) never loads cdktf or the
    // infrastructure: it shares only runtime/src/contract with modules/.
    files: ["runtime/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["cdktf", "cdktf/*", "constructs", "@cdktf/*"],
              message: "Runtime code never imports cdktf.",
            },
            {
              group: ["**/modules/**", "**/stacks/**"],
              message: "Runtime code shares only runtime/src/contract.",
            },
          ],
        },
      ],
    },
  },
);
