// Built the way code outside the composition root could build them, each breaking one policy the stack
// config cannot reach (validation refuses such config first). Only previewed: nothing runs, and the host
// is loopback.
import * as pulumi from "@pulumi/pulumi";
import { BindMount } from "../../../components/BindMount";
import { RemoteScript } from "../../../providers/remoteScript/resource";

const pinned = {
  host: "127.0.0.1",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd7x9kq0ZfV8tQ3mPp5vN2wY7cR4sL6hJ1aB3eD5fG7",
  privateKey: pulumi.secret("not a key: never used by a preview"),
  become: "none" as const,
};

// skylab-connection-require-pinned-host-key: no host key.
new RemoteScript("unpinned", {
  connection: { ...pinned, hostKey: "" },
  description: "a script on an unpinned host",
  create: "set -euo pipefail\ntrue\n",
});

// skylab-secrets-require-secret-values: a password in the script's values.
new RemoteScript("leaky", {
  connection: pinned,
  description: "a script given a password as a value",
  create: "set -euo pipefail\ntrue\n",
  values: { DB_PASSWORD: "hunter2" },
});

// skylab-storage-require-readonly-bind-mount: a writable bind mount.
new BindMount("writable", {
  connection: pinned,
  configRepo: "/etc/nixos",
  modulePath: "modules/generated/skylab-immich/storage-media-writable.nix",
  source: "/home/zipang/Pictures/Digicam",
  mountPoint: "/media/writable",
  readOnly: false,
});
