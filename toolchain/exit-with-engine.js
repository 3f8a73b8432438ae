// Preloaded (`node -r`) into the language host, the program and the dynamic provider: each ends when the
// process that started it is gone. The Pulumi CLI killed with SIGKILL cannot stop its plugins, and a
// gRPC server or an open channel would keep them alive as orphans. Reparenting (the parent PID changes)
// is the sign; the check does not keep the process alive.
"use strict";

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 500).unref();
