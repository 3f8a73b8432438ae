// Prints the verification report (the `verification` stack output, JSON on stdin) as a table.
import { readFileSync } from "fs";

interface Check {
  check: string;
  target: string;
  status: "pass" | "fail" | "not-applicable";
  detail: string;
}

const checks = JSON.parse(readFileSync(0, "utf8")) as Check[];
const mark = { pass: "PASS", fail: "FAIL", "not-applicable": "N/A " } as const;
const width = Math.max(...checks.map((c) => `${c.check} ${c.target}`.length));
for (const c of checks) {
  console.log(`${mark[c.status]}  ${`${c.check} ${c.target}`.padEnd(width)}  ${c.detail}`);
}
const count = (status: Check["status"]) => checks.filter((c) => c.status === status).length;
console.log(`\n${count("pass")} passed, ${count("fail")} failed, ${count("not-applicable")} not applicable here`);
process.exitCode = count("fail") > 0 ? 1 : 0;
