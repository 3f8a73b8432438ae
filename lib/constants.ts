/** Names and places the program and its host-side scripts agree on: one home for each. */

/** The program's own state on the host: migration marker and lock, apply jobs, sops bookkeeping. */
export const STATE_DIR = "/var/lib/skylab-immich";

/** Immich's units (nixpkgs' services.immich): stopped while their data moves, verified after an apply. */
export const IMMICH_SERVER_UNIT = "immich-server.service";
export const IMMICH_MACHINE_LEARNING_UNIT = "immich-machine-learning.service";

/** nginx's unit (nixpkgs' services.nginx). */
export const NGINX_UNIT = "nginx.service";

/** Where sops-nix puts a secret: /run/secrets/<key>. */
export function sopsSecretPath(key: string): string {
  return `/run/secrets/${key}`;
}

/** A file name for a path: "/var/lib/immich" → "var-lib-immich". */
export function slug(path: string): string {
  return path.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase() || "root";
}

/** The tools the program's scripts run on the host: the host look reports each, preflight refuses a missing one. */
export const REQUIRED_TOOLS = ["btrfs", "rsync", "git", "sops", "nixos-rebuild", "findmnt", "flock"] as const;
