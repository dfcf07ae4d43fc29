// The tests run on jest, from their TypeScript sources (transpiled by @swc/jest; `tsc -b` type-checks them as
// its own step). The packages they import are the built ones, through each package's `exports`, as any
// dependant sees them: `npm run build` comes first.
const transform = {
  "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
};

/** One project per tier, named in the test files: `*.unit.test.ts`, `*.contract.test.ts`, `*.e2e.test.ts`. */
const tier = (name) => ({
  displayName: name,
  testEnvironment: "node",
  transform,
  roots: ["<rootDir>/test"],
  testMatch: [`**/*.${name}.test.ts`],
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [tier("unit"), tier("contract"), tier("e2e")],
  // Every test is bounded: one that hangs fails after two minutes; longer ones say so themselves.
  testTimeout: 120_000,
  // A handle a test leaves open (a server, a timer, a socket) is reported instead of keeping the run alive.
  detectOpenHandles: true,
};
