import { PolicyPack } from "@pulumi/policy";
import { policy as btrfsMountOptions } from "./policies/skylab-storage-enforce-btrfs-mount-options";
import { policy as pinnedHostKey } from "./policies/skylab-connection-require-pinned-host-key";
import { policy as unguardedDataDeletion } from "./policies/skylab-storage-disallow-unguarded-data-deletion";
import { policy as secretValues } from "./policies/skylab-secrets-require-secret-values";
import { policy as loopbackBinding } from "./policies/skylab-apps-require-loopback-binding";
import { policy as readonlyBindMount } from "./policies/skylab-storage-require-readonly-bind-mount";
import { policy as largeUploadSize } from "./policies/skylab-web-require-large-upload-size";
import { policy as tunnelThroughNginx } from "./policies/skylab-web-require-tunnel-through-nginx";

// Starting the pack serves it to the engine; tests import the policies from policies/ instead.
new PolicyPack("skylab-immich", {
  policies: [
    btrfsMountOptions,
    pinnedHostKey,
    unguardedDataDeletion,
    secretValues,
    loopbackBinding,
    readonlyBindMount,
    largeUploadSize,
    tunnelThroughNginx,
  ],
});
