/**
 * Writes contract.json (what server.js enforces inside the sandbox, where TypeScript cannot run) from contract.ts.
 * Run after any change of contract.ts, and commit both:
 *
 *   npx ts-node --transpile-only sandbox/immich-standin/write-contract.ts
 *
 * tests/sandbox/immich-contract.test.ts fails while the committed contract.json is not this output.
 */
import { writeFileSync } from "fs";
import * as path from "path";
import type * as ContractModule from "./contract";

// By file name: under ts-node, `./contract` would find contract.json first (Node tries .json before .ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contractJson } = require("./contract.ts") as typeof ContractModule;

const target = path.join(__dirname, "contract.json");
writeFileSync(target, contractJson());
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
