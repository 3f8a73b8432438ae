/**
 * What each `nixos.mode` means, decided here and nowhere else (colmena's `Goal` with its
 * `should_switch_profile`): the scripts and the program read these effects, never the mode's name.
 */
export const rebuildModes = ["switch", "test", "boot", "dry-activate"] as const;
export type RebuildMode = (typeof rebuildModes)[number];

export interface RebuildEffects {
  /** The new configuration becomes the running system now (`nixos-rebuild test`), then is verified and confirmed. */
  activates: boolean;
  /**
   * When it becomes the boot default: after the deployer confirmed the verified activation, at once
   * (`nixos-rebuild boot`, nothing runs before the next reboot), or never (a reboot returns to the old one).
   */
  bootDefault: "after-confirmation" | "now" | "never";
}

export function rebuildEffects(mode: RebuildMode): RebuildEffects {
  switch (mode) {
    case "switch": return { activates: true, bootDefault: "after-confirmation" };
    case "test": return { activates: true, bootDefault: "never" };
    case "boot": return { activates: false, bootDefault: "now" };
    case "dry-activate": return { activates: false, bootDefault: "never" };
  }
}
