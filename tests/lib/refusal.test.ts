import * as pulumi from "@pulumi/pulumi";
import { EXIT_AFTER_USER_ACTIONABLE_MESSAGE, refuse } from "../../lib/refusal";

test("refuse: the message reaches the engine first, then the program ends with the SDK's user-actionable code", async () => {
  const events: string[] = [];
  const log = jest.spyOn(pulumi.log, "error").mockImplementation(async (message: string) => {
    await new Promise((resolve) => setImmediate(resolve));
    events.push(`log: ${message}`);
  });
  const exit = jest.spyOn(process, "exit").mockImplementation(((code: number) => {
    events.push(`exit: ${code}`);
    throw new Error("exited");
  }) as never);
  try {
    await expect(refuse("`storage.mountPoint` must be an absolute path")).rejects.toThrow("exited");
    expect(events).toStrictEqual(["log: `storage.mountPoint` must be an absolute path", "exit: 32"]);
    expect(EXIT_AFTER_USER_ACTIONABLE_MESSAGE).toBe(32);
  } finally {
    log.mockRestore();
    exit.mockRestore();
  }
});
