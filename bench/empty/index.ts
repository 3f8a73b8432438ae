// The empty program of bench/run.ts: no resources, one output. Whatever `pulumi preview`/`up` cost for
// this is the floor of the engine, the language host and the SDK with this toolchain.
export const empty = "nothing to converge";
