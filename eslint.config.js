// `npm run lint`: ESLint 9 flat config. JavaScript's recommended rules plus typescript-eslint's
// recommended set (syntax-only, no type information: `npm run typecheck` is the type check and
// keeps lint fast), and a few rules for bugs the style guide names (`||` defaults, `as any`).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["node_modules/", "cdktf.out/", "dist/", "coverage/", ".tmp/", "**/.*.app.mjs", "**/__snapshots__/"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // Unused bindings are mistakes, except deliberate discards (`_name`, rest siblings).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true, caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-console": "off",
    },
  },
  {
    // Plain JavaScript entry points run on Node.js.
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly", performance: "readonly" },
    },
  },
);
