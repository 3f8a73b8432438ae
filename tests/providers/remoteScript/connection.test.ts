// Which connection each phase of a RemoteScript uses: the run's shared one, except the confirmation.
const mockRuns: Array<{ script: string; controlPath: string | undefined }> = [];
jest.mock("../../../lib/remote/ssh", () => {
  const actual = jest.requireActual("../../../lib/remote/ssh");
  return {
    ...actual,
    runRemoteScript: async (_conn: unknown, script: string, options: { controlPath?: string }) => {
      mockRuns.push({ script, controlPath: options.controlPath });
      return { stdout: script.includes("apply") ? "applied\nconfirm-token: 0a1b\n" : "confirmed\n", stderr: "", code: 0 };
    },
  };
});
jest.mock("../../../lib/remote/sshMaster", () => ({ sharedControlPath: () => "/tmp/skylab-immich-ssh-0/0123abcd" }));
import { RemoteScriptProps } from "../../../providers/remoteScript/props";
import { create, remove } from "../../../providers/remoteScript/runtime";

function props(): RemoteScriptProps {
  return {
    connection: { host: "192.168.1.20", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", privateKey: "k", become: "none" },
    description: "nixos apply",
    create: "echo apply\n",
    confirm: "echo confirm\n",
    delete: "echo remove\n",
    values: {},
    logOutput: true,
  };
}

beforeEach(() => {
  mockRuns.length = 0;
});

test("create goes through the run's master; the confirmation that follows does not (a new connection)", async () => {
  await create(props());
  expect(mockRuns.map((r) => [r.script.includes("echo apply") ? "apply" : r.script.includes("echo confirm") ? "confirm" : "?", r.controlPath]))
    .toStrictEqual([["apply", "/tmp/skylab-immich-ssh-0/0123abcd"], ["confirm", undefined]]);
});

test("delete goes through the run's master", async () => {
  await remove(props());
  expect(mockRuns.map((r) => r.controlPath)).toStrictEqual(["/tmp/skylab-immich-ssh-0/0123abcd"]);
});
