import * as pulumi from "./pulumi";
import { REQUIRED_TOOLS } from "./constants";
import { preflightProblems } from "./drift";
import { HostFacts, LookRequest, lookAtHost } from "./remote/hostFacts";
import { conflictMessage, Judgement, judgeOwnerDefinitions, PlannedModule } from "./ownerDefinitions";
import { nixAttrPath } from "./nix";
import { refuse } from "./refusal";
import { SshConnection } from "./remote/ssh";

/**
 * The one read-only look at the host a preview or up starts with, and the preflight on what it found:
 * a host that would make `up` fail is refused here, before anything changes. Undefined when the look is
 * skipped (then drift is not checked, and the log says so).
 */
export async function lookBeforeConverging(
  connection: Omit<SshConnection, "privateKey">, privateKey: pulumi.Output<string>, request: LookRequest, skip: boolean,
): Promise<HostFacts | undefined> {
  if (skip) {
    pulumi.log.warn("host look skipped (hostLook=false or SKYLAB_SKIP_HOST_LOOK=1): drift was NOT checked and preflight did not run");
    return undefined;
  }
  const facts = await lookAtHost({ ...connection, privateKey: await plain(privateKey) }, request).catch((err: Error) =>
    // Unreachable host, wrong host key, refused key: the message names the setting; no stack trace.
    refuse(`${err.message} (or preview offline with SKYLAB_SKIP_HOST_LOOK=1: drift is then not checked)`),
  );
  const problems = preflightProblems(facts, {
    mediasLabel: request.mediasLabel, configRepo: request.configRepo, importPath: request.importPath, host: connection.host,
    requiredTools: [...REQUIRED_TOOLS], folders: request.folders,
  });
  if (problems.length) {
    await refuse(`SKYLAB is not ready; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return facts;
}

/** The plain value of a secret, for the program's own SSH look (it never leaves this process). */
function plain(value: pulumi.Output<string>): Promise<string> {
  return new Promise((resolve) => value.apply((v) => resolve(v)));
}

/** The first NixOS release whose nixpkgs has every option the generated modules set (services.immich came in 24.11). */
export const MINIMUM_NIXOS = "24.11";

/**
 * The owner's own definitions of what the program defines (lib/ownerDefinitions.ts), judged before any resource
 * exists: identical ones are adopted and listed; different ones, and options the host's nixpkgs lacks, are
 * refused with the file, the option, both values and the fix. A look that could not read them says so.
 */
export async function judgeOwnerOrRefuse(facts: HostFacts | undefined, planned: PlannedModule[], repo: string): Promise<Judgement | undefined> {
  const owner = facts?.owner;
  if (!owner) return undefined;
  if (owner.skipped) pulumi.log.warn(`the owner's own definitions were NOT checked: ${owner.skipped}`);
  if (owner.error) {
    pulumi.log.warn(`the owner's own definitions were NOT checked: the host's configuration did not evaluate with ${owner.nixpkgs}:\n${owner.error}`);
  }
  if (!owner.options) return undefined;
  const judgement = judgeOwnerDefinitions(planned, owner, repo);
  const problems: string[] = [];
  const sopsNix = judgement.missing.filter((o) => o.startsWith("sops."));
  const nixos = judgement.missing.filter((o) => !o.startsWith("sops."));
  if (nixos.length) {
    problems.push(
      `the host's nixpkgs (${owner.nixpkgs}) has no option ${nixos.join(", ")}: skylab-immich needs NixOS ` +
        `${MINIMUM_NIXOS} or later. Fix: update the host's nixpkgs (channel or flake input), then run preview again`,
    );
  }
  if (sopsNix.length) {
    problems.push(
      `the host's configuration has no option ${sopsNix.join(", ")}: import sops-nix's module (sops-nix with sops.templates, ` +
        "2023 or later) in the configuration, then run preview again",
    );
  }
  problems.push(...judgement.conflicts.map(conflictMessage));
  if (problems.length) {
    await refuse(
      `the host's own configuration defines what skylab-immich defines, differently; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  if (judgement.adoptions.length) {
    pulumi.log.info(
      `adopted ${judgement.adoptions.length} of the owner's own definitions (identical values; the owner's files are not changed, ` +
        `and their definitions stay the ones in force):\n${judgement.adoptions.map((a) => `  ${a.file}: ${nixAttrPath(a.path)} = ${JSON.stringify(a.value)}`).join("\n")}`,
    );
  }
  return judgement;
}
