// Where ImmichLibrary's runtime was before it had its folder. A provider serialized into a state before then
// requires this path itself (a destroy runs the provider the resource was created with): keep this file.
export * from "./immichLibrary/runtime";
