// Preloaded (`node -r`) into the language host, the program and the dynamic provider: each ends when the
// process that started it is gone. The Pulumi CLI killed with SIGKILL cannot stop its plugins, and a
// gRPC server or an open channel would keep them alive as orphans. Reparenting (the parent PID is no
// longer the starter's) is the sign; the check does not keep the process alive.
//
// The starter's PID comes in SKYLAB_PLUGIN_PARENT (the shims and the language host set it): the starter
// may be gone before this file runs, and process.ppid would then already name the new parent.
"use strict";

const parent = Number(process.env.SKYLAB_PLUGIN_PARENT) || process.ppid;
delete process.env.SKYLAB_PLUGIN_PARENT;
const check = () => {
  if (process.ppid !== parent) process.exit(1);
};
check();
setInterval(check, 500).unref();
