import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/", "**/dist-*/", "**/gen/", "**/node_modules/", "**/data/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "no-console": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-properties": [
        "error",
        { object: "it", property: "only", message: "A focused test hides the rest of the suite." },
        { object: "describe", property: "only", message: "A focused test hides the rest of the suite." },
        { object: "test", property: "only", message: "A focused test hides the rest of the suite." },
      ],
    },
  },
  {
    // jest's configuration: a CommonJS module.
    files: ["jest.config.js"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable" } },
  },
  {
    // Plain Node scripts of the repository's own checks.
    files: ["**/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly", URL: "readonly" } },
  },
  {
    // Entry points and tools print for their user.
    files: ["**/main.ts", "scripts/**", "bench/**"],
    rules: { "no-console": "off" },
  },
);
