/** Unit tests run in parallel; end-to-end suites (tests/e2e, tests/sandbox) share sandboxes and run in band. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: { warnOnly: false } }] },
  testTimeout: 600000,
};
