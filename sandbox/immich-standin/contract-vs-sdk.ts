/**
 * Compile-time proof that contract.ts is @immich/sdk's API, so the two cannot drift apart: `npx tsc --noEmit -p .`
 * fails, naming the schema or operation, when
 *  - a schema's type (FromSchema of the document) is not the SDK's type of the same name,
 *  - an operation's path and query parameters and JSON body are not the arguments of the SDK function named
 *    by its operationId, or its answer is not what that function returns,
 *  - a schema or operation has no counterpart in the SDK (a new one needs an entry in SdkSchemas).
 *
 * "The same type" is checked as identity (after the SDK's enums are read as their string values), which is
 * stricter than mutual assignability: it also catches an optional property that only one side has.
 * Formats (uuid, date-time, int64) are not in the SDK's types; they come from Immich 1.112.1's spec.
 * Paths and methods are not in the SDK's types either: tests/sandbox/immich-contract.test.ts compares them
 * with what the SDK's functions call.
 */
import type * as sdk from "@immich/sdk";
import type { contract, Flat, FromSchema, Schema, SchemaName } from "./contract";

// ---------------------------------------------------------------------------------------------------------
// Type-level tools
// ---------------------------------------------------------------------------------------------------------

/** true when A and B are the same type. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

/**
 * A type as it travels in JSON: the SDK's string enums become the union of their values (`UserStatus` →
 * "active" | "removing" | "deleted"), and every object type becomes a plain object type.
 */
type Wire<T> =
  T extends string ? `${T}`
  : T extends number | boolean | null | undefined ? T
  : T extends readonly (infer Item)[] ? Wire<Item>[]
  : T extends object ? { [K in keyof T]: Wire<T[K]> }
  : T;

/** Fails to compile unless T is never; the error names what T still holds (the mismatching names). */
type NoneOf<T extends never> = T;

// ---------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------

/**
 * The one schema the SDK does not have: Immich 1.112.1's optional scan body, which the contract still checks
 * when a client sends one (the SDK sends none; the scanLibrary check below holds it to that).
 */
type NotInSdk = "ScanLibraryDto";

/** Each schema of the contract and the SDK's type of the same name. */
interface SdkSchemas {
  AssetStatsResponseDto: sdk.AssetStatsResponseDto;
  AssetVisibility: sdk.AssetVisibility;
  CreateLibraryDto: sdk.CreateLibraryDto;
  LibraryResponseDto: sdk.LibraryResponseDto;
  LibraryStatsResponseDto: sdk.LibraryStatsResponseDto;
  QueueCommand: sdk.QueueCommand;
  QueueCommandDto: sdk.QueueCommandDto;
  QueueName: sdk.QueueName;
  QueueResponseLegacyDto: sdk.QueueResponseLegacyDto;
  QueueStatisticsDto: sdk.QueueStatisticsDto;
  QueueStatusLegacyDto: sdk.QueueStatusLegacyDto;
  QueuesResponseLegacyDto: sdk.QueuesResponseLegacyDto;
  ServerPingResponse: sdk.ServerPingResponse;
  UpdateLibraryDto: sdk.UpdateLibraryDto;
  UserAdminResponseDto: sdk.UserAdminResponseDto;
  UserAvatarColor: sdk.UserAvatarColor;
  UserLicense: sdk.UserLicense;
  UserStatus: sdk.UserStatus;
  ValidateLibraryDto: sdk.ValidateLibraryDto;
  ValidateLibraryImportPathResponseDto: sdk.ValidateLibraryImportPathResponseDto;
  ValidateLibraryResponseDto: sdk.ValidateLibraryResponseDto;
}

/** Schemas of the contract that are not their SDK counterpart (or have none). */
type SchemaMismatches = {
  [N in Exclude<SchemaName, NotInSdk>]: N extends keyof SdkSchemas ? (Same<Wire<Schema<N>>, Wire<SdkSchemas[N]>> extends true ? never : N) : N;
}[Exclude<SchemaName, NotInSdk>];

/** Entries of SdkSchemas that the contract does not have. */
type SdkSchemasNotInContract = Exclude<keyof SdkSchemas, SchemaName>;

export type SchemasAreTheSdks = [NoneOf<SchemaMismatches>, NoneOf<SdkSchemasNotInContract>];

// ---------------------------------------------------------------------------------------------------------
// Operations: parameters and body against the SDK function's arguments, the answer against its result
// ---------------------------------------------------------------------------------------------------------

type Paths = typeof contract.paths;
type AnyOperation = { [P in keyof Paths]: Paths[P][keyof Paths[P]] }[keyof Paths];
/** The contract's operations by operationId. */
type Operations = { [O in AnyOperation as O["operationId"]]: O };
type OperationId = keyof Operations;

/** Path and query parameters, as the SDK takes them: `{ id: string }`, `{ isFavorite?: boolean, ... }`. */
type ParametersOf<O> = O extends { readonly parameters: readonly (infer P extends { name: string; required: boolean; schema: unknown })[] }
  ? Flat<{ [Q in P as Q["required"] extends true ? Q["name"] : never]: FromSchema<Q["schema"]> } &
      { [Q in P as Q["required"] extends true ? never : Q["name"]]?: FromSchema<Q["schema"]> }>
  : unknown;

/** The JSON body, named as the SDK (oazapfts) names it: CreateLibraryDto → `createLibraryDto`. */
type BodyOf<O> = O extends {
  readonly requestBody: { readonly required: infer Required; readonly content: { readonly "application/json": { readonly schema: { readonly $ref: `#/components/schemas/${infer N extends SchemaName}` } } } };
} ? N extends NotInSdk ? (Required extends true ? { [K in Uncapitalize<N>]: Schema<N> } : unknown) : Required extends true ? { [K in Uncapitalize<N>]: Schema<N> } : { [K in Uncapitalize<N>]?: Schema<N> }
  : unknown;

/** The SDK call's arguments as one object ({} when the function takes only `opts`). */
type ArgumentsOf<O> = Flat<ParametersOf<O> & BodyOf<O>>;
type SdkArguments<F extends (...args: never[]) => unknown> = undefined extends Parameters<F>[0] ? unknown : Parameters<F>[0];

/** The 2xx JSON answer; never for 204 (the SDK's `Promise<never>`). */
type AnswerOf<O> = O extends { readonly responses: infer R }
  ? { [S in keyof R]: R[S] extends { readonly content: { readonly "application/json": { readonly schema: infer Body } } } ? FromSchema<Body> : never }[keyof R]
  : never;

type Sdk = typeof sdk;

/** Operations whose operationId is not a function of the SDK. */
type NotSdkFunctions = Exclude<OperationId, keyof Sdk>;

type ArgumentMismatches = {
  [Id in OperationId]: Id extends keyof Sdk
    ? Sdk[Id] extends (...args: never[]) => unknown
      ? Same<Wire<Flat<ArgumentsOf<Operations[Id]>>>, Wire<Flat<SdkArguments<Sdk[Id]>>>> extends true ? never : Id
      : Id
    : never;
}[OperationId];

type AnswerMismatches = {
  [Id in OperationId]: Id extends keyof Sdk
    ? Sdk[Id] extends (...args: never[]) => Promise<infer Result>
      ? Same<Wire<AnswerOf<Operations[Id]>>, Wire<Result>> extends true ? never : Id
      : Id
    : never;
}[OperationId];

export type OperationsAreTheSdks = [NoneOf<NotSdkFunctions>, NoneOf<ArgumentMismatches>, NoneOf<AnswerMismatches>];
