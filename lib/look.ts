import * as pulumi from "./pulumi";
import { REQUIRED_TOOLS } from "./constants";
import { preflightProblems } from "./drift";
import { HostFacts, LookRequest, lookAtHost } from "./remote/hostFacts";
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
    requiredTools: [...REQUIRED_TOOLS],
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
