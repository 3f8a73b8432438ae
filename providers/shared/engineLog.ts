// Shared by the runtimes of every dynamic provider: they run inside the engine's provider process
// (`pulumi-resource-pulumi-nodejs`), and the engine shows only what reaches it over its own Log RPC.

/** Messages to the engine that started this provider (its address is our first argument). */
export function engineLog(severity: "INFO" | "WARNING" = "INFO"): (message: string) => void {
  const address = process.argv[2];
  if (!address || !/^[\w.-]+:\d+$/.test(address)) return (message) => process.stderr.write(`${message}\n`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require("@grpc/grpc-js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineProto = require("@pulumi/pulumi/proto/engine_pb");
  const client = new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  return (message) => {
    const request = new engineProto.LogRequest();
    request.setSeverity(engineProto.LogSeverity[severity]);
    request.setMessage(message);
    client.log(request, () => undefined);
  };
}
