#!/usr/bin/env node
// A Node.js language host for the Pulumi engine (plugin `pulumi-language-nodejs`).
//
// Why this exists: the upstream Go language host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) and the Go module proxy this
// project can reach refuses every version of it (403 "not available"). The engine itself (pkg/v3) is
// served and built from source. This host implements the same gRPC protocol (pulumirpc.LanguageRuntime)
// and, like the upstream host, runs programs through the official SDK entry points shipped in the
// @pulumi/pulumi npm package: `@pulumi/pulumi/cmd/run` for programs, `cmd/run-policy-pack` for policy
// packs and `cmd/run-plugin` for plugins. It does not install dependencies (`npm run setup` does).
"use strict";

const { spawn } = require("child_process");
const path = require("path");
const grpc = require("@grpc/grpc-js");
const languageRpc = require("@pulumi/pulumi/proto/language_grpc_pb");
const languageProto = require("@pulumi/pulumi/proto/language_pb");
const pluginProto = require("@pulumi/pulumi/proto/plugin_pb");

const HOST_VERSION = "3.248.0";
// The SDK exits with this code after it has already shown the user an actionable message.
const EXIT_AFTER_USER_ACTIONABLE_MESSAGE = 32;

// The engine starts us as `pulumi-language-nodejs [-flag=value ...] <engine-address>`.
const engineAddress = process.argv.slice(2).filter((arg) => !arg.startsWith("-")).pop() || "";

function resolveSdkEntry(entry, programDirectory) {
  try {
    return require.resolve(`@pulumi/pulumi/cmd/${entry}`, { paths: [programDirectory] });
  } catch (err) {
    throw new Error(
      `could not find @pulumi/pulumi in ${programDirectory}: run \`npm run setup\` (or \`npm ci\` there) first`,
    );
  }
}

function runtimeOptions(info) {
  const options = info && info.getOptions() ? info.getOptions().toJavaScript() : {};
  return {
    typescript: options.typescript === undefined ? true : options.typescript === true,
    tsconfig: typeof options.tsconfig === "string" ? options.tsconfig : "",
    nodeargs: typeof options.nodeargs === "string" ? options.nodeargs.split(/\s+/).filter(Boolean) : [],
  };
}

function typescriptEnv(options) {
  const env = {};
  if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  return env;
}

function run(call, callback) {
  const req = call.request;
  const info = req.getInfo();
  const programDirectory = info ? info.getProgramDirectory() : req.getPwd();
  let runPath;
  try {
    runPath = resolveSdkEntry("run", programDirectory);
  } catch (err) {
    callback(null, new languageProto.RunResponse().setError(err.message));
    return;
  }
  const options = runtimeOptions(info);
  // The program ends with its language host too (see exit-with-engine.js).
  const args = [...options.nodeargs, "-r", path.join(__dirname, "exit-with-engine.js"), runPath];
  const flag = (name, value) => {
    if (value !== undefined && value !== null && `${value}` !== "") args.push(`--${name}`, `${value}`);
  };
  flag("monitor", req.getMonitorAddress());
  flag("engine", engineAddress);
  flag("organization", req.getOrganization());
  flag("project", req.getProject());
  flag("root-directory", info ? info.getRootDirectory() : "");
  flag("stack", req.getStack());
  flag("pwd", programDirectory);
  if (req.getDryrun()) args.push("--dry-run");
  flag("parallel", req.getParallel());
  args.push(info && info.getEntryPoint() ? info.getEntryPoint() : ".", ...req.getArgsList());

  const config = {};
  for (const [key, value] of req.getConfigMap().entries()) config[key] = value;
  const env = {
    ...process.env,
    ...typescriptEnv(options),
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
    SKYLAB_PLUGIN_PARENT: String(process.pid),
  };
  const child = spawn(process.execPath, args, { cwd: programDirectory, env, stdio: ["ignore", "inherit", "inherit"] });
  child.on("error", (err) => {
    callback(null, new languageProto.RunResponse().setError(`could not start node: ${err.message}`));
  });
  child.on("exit", (code, signal) => {
    const response = new languageProto.RunResponse();
    if (code === EXIT_AFTER_USER_ACTIONABLE_MESSAGE) response.setBail(true);
    else if (code !== 0) response.setError(`Program exited with non-zero exit code: ${code === null ? signal : code}`);
    callback(null, response);
  });
}

function runPlugin(call) {
  const req = call.request;
  const info = req.getInfo();
  const programDirectory = info.getProgramDirectory();
  const isPolicyPack = req.getKind() === "analyzer";
  const send = (setter, value) => call.write(new languageProto.RunPluginResponse()[setter](value));
  let runPath;
  try {
    runPath = resolveSdkEntry(isPolicyPack ? "run-policy-pack" : "run-plugin", programDirectory);
  } catch (err) {
    call.destroy(Object.assign(new Error(err.message), { code: grpc.status.FAILED_PRECONDITION }));
    return;
  }
  const options = runtimeOptions(info);
  // Policy packs take their directory last, other plugins first (same order as the upstream host).
  const args = isPolicyPack
    ? [...options.nodeargs, "-r", path.join(__dirname, "exit-with-engine.js"), runPath, ...req.getArgsList(), programDirectory]
    : [...options.nodeargs, "-r", path.join(__dirname, "exit-with-engine.js"), runPath, programDirectory, ...req.getArgsList()];
  const baseEnv = req.getEnvList().length > 0 ? Object.fromEntries(req.getEnvList().map(splitEnv)) : process.env;
  const child = spawn(process.execPath, args, {
    cwd: isPolicyPack ? programDirectory : req.getPwd() || programDirectory,
    env: { ...baseEnv, ...typescriptEnv(options), SKYLAB_PLUGIN_PARENT: String(process.pid) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk) => send("setStdout", chunk));
  child.stderr.on("data", (chunk) => send("setStderr", chunk));
  child.on("error", (err) => send("setStderr", Buffer.from(`could not start node: ${err.message}\n`)));
  child.on("close", (code) => {
    send("setExitcode", code === null ? 1 : code);
    call.end();
  });
  call.on("cancelled", () => child.kill("SIGTERM"));
}

function splitEnv(entry) {
  const at = entry.indexOf("=");
  return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
}

const service = {
  getPluginInfo: (_call, callback) => callback(null, new pluginProto.PluginInfo().setVersion(HOST_VERSION)),
  getRequiredPlugins: (_call, callback) => callback(null, new languageProto.GetRequiredPluginsResponse()),
  getRequiredPackages: (_call, callback) => callback(null, new languageProto.GetRequiredPackagesResponse()),
  getProgramDependencies: (_call, callback) => callback(null, new languageProto.GetProgramDependenciesResponse()),
  about: (_call, callback) =>
    callback(null, new languageProto.AboutResponse().setExecutable(process.execPath).setVersion(process.version)),
  installDependencies: (call) => {
    call.write(
      new languageProto.InstallDependenciesResponse().setStdout(
        Buffer.from("Dependencies are installed by `npm run setup` (npm ci from the lockfile); nothing to do.\n"),
      ),
    );
    call.end();
  },
  run,
  runPlugin,
};

const server = new grpc.Server();
server.addService(languageRpc.LanguageRuntimeService, service);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`language host could not listen: ${err.message}`);
    process.exit(1);
  }
  process.stdout.write(`${port}\n`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.forceShutdown() || process.exit(0));
