// `ts-node scripts/sandbox-stack.ts SANDBOX STACK`: aim a stack at a running sandbox (used by `npm run demo`).
import { configureSandboxStack, importGeneratedModules } from "../sandbox/stack";

async function main(): Promise<void> {
  const [sandbox = "skylab", stack = `sandbox-${sandbox}`] = process.argv.slice(2);
  await configureSandboxStack(sandbox, stack);
  await importGeneratedModules(sandbox);
  console.log(`stack ${stack} now targets sandbox ${sandbox}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
