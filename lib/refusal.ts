import * as pulumi from "./pulumi";

/**
 * The Node SDK's exit code for "the program has already shown the user an actionable message": the
 * language host then fails the update without a message of its own (`@pulumi/pulumi/cmd/run`, which
 * exits with it after a module fails to load).
 */
export const EXIT_AFTER_USER_ACTIONABLE_MESSAGE = 32;

/**
 * Ends the program with a refusal (invalid settings, a host that is not ready, a host key that does not
 * match) as soon as the message has reached the engine. A thrown error would say the same, but the SDK
 * then keeps the process alive until the engine drops its connections, about 20 s here: a refusal
 * must come back at least as fast as a valid preview.
 */
export async function refuse(message: string): Promise<never> {
  await pulumi.log.error(message);
  process.exit(EXIT_AFTER_USER_ACTIONABLE_MESSAGE);
}
