/**
 * Immich's API as the sandbox's stand-in (server.js beside this file) enforces it: an OpenAPI 3.0 document
 * with only the operations this project uses (the program's provider, providers/immichLibrary/api.ts, through
 * @immich/sdk; the verification's `GET /api/server/ping`; the stand-in's tests) and the schemas they reach.
 *
 * Every field name, type, format, enum and required list is a fact of Immich's published API: Immich 1.112.1's
 * OpenAPI spec, and @immich/sdk 3.2.2 (generated from a newer spec) wherever the two differ, because the SDK
 * is what the program sends and what a current server accepts. The differences taken from the SDK: the job
 * queue endpoints (`getQueuesLegacy`, `runQueueCommandLegacy` on `/jobs/{name}` with 19 queue names, `force`
 * optional), `UserAdminResponseDto` (`clusterGroupId`, `profileChangedAt`), the asset statistics' query
 * (`visibility` instead of `isArchived`), and scan's body (optional: the SDK sends none; see scan below).
 * contract-vs-sdk.ts proves at compile time that each schema and operation here is the SDK's.
 *
 * server.js runs inside the sandbox without TypeScript: `npx ts-node --transpile-only
 * sandbox/immich-standin/write-contract.ts` writes contract.json beside it, and tests/sandbox/immich-contract.test.ts
 * fails when the committed file is not what this module exports.
 */

// ---------------------------------------------------------------------------------------------------------
// The shape of the document (what server.js's Contract reads)
// ---------------------------------------------------------------------------------------------------------

export interface JsonSchema {
  readonly $ref?: string;
  readonly type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  readonly format?: "uuid" | "date-time" | "int64";
  readonly enum?: readonly string[];
  readonly nullable?: boolean;
  readonly items?: JsonSchema;
  readonly properties?: { readonly [name: string]: JsonSchema };
  readonly required?: readonly string[];
  readonly allOf?: readonly JsonSchema[];
  readonly default?: unknown;
  readonly example?: unknown;
  readonly readOnly?: boolean;
}

interface JsonContent {
  readonly content: { readonly "application/json": { readonly schema: JsonSchema } };
}

export interface Parameter {
  readonly name: string;
  readonly in: "path" | "query";
  readonly required: boolean;
  readonly schema: JsonSchema;
}

export interface Operation {
  readonly operationId: string;
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: JsonContent & { readonly required: boolean };
  readonly responses: { readonly [status: string]: { readonly description: string } & Partial<JsonContent> };
  readonly security?: readonly { readonly [scheme: string]: readonly string[] }[];
}

export interface OpenApiDocument {
  readonly openapi: "3.0.0";
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly servers: readonly [{ readonly url: "/api" }];
  readonly paths: { readonly [path: string]: { readonly [method in "get" | "post" | "put" | "delete"]?: Operation } };
  readonly components: {
    readonly schemas: { readonly [name: string]: JsonSchema };
    readonly securitySchemes: { readonly [name: string]: { readonly type: string; readonly [key: string]: string } };
  };
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------------

const ref = <N extends string>(name: N) => ({ $ref: `#/components/schemas/${name}` }) as const;
const string = { type: "string" } as const;
const uuid = { type: "string", format: "uuid" } as const;
const dateTime = { type: "string", format: "date-time" } as const;
const integer = { type: "integer" } as const;
const boolean = { type: "boolean" } as const;
const strings = { type: "array", items: string } as const;

/** Every operation but ping: Immich takes a session token (bearer or cookie) or an API key (`x-api-key`). */
const secured = [{ bearer: [] }, { cookie: [] }, { api_key: [] }] as const;
const json = <S extends JsonSchema>(schema: S) => ({ content: { "application/json": { schema } } }) as const;
const answer = <S extends JsonSchema>(schema: S) => ({ description: "", ...json(schema) }) as const;
const noContent = { "204": { description: "" } } as const;
const libraryId = [{ name: "id", in: "path", required: true, schema: uuid }] as const;

/** One queue's state, the same shape for each of Immich's job queues. */
const queue = ref("QueueResponseLegacyDto");

// ---------------------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------------------

export const contract = {
  openapi: "3.0.0",
  info: {
    title: "Immich (the part skylab-immich uses)",
    version: "3.2.2",
    description: "Facts of Immich's published API: Immich 1.112.1's OpenAPI spec, and @immich/sdk 3.2.2 where they differ. " +
      "Written for the sandbox's stand-in Immich API (skylab-immich sandbox/immich-standin/contract.ts); not Immich's own file.",
  },
  servers: [{ url: "/api" }],
  paths: {
    "/assets/statistics": {
      get: {
        operationId: "getAssetStatistics",
        parameters: [
          { name: "isFavorite", in: "query", required: false, schema: boolean },
          { name: "isTrashed", in: "query", required: false, schema: boolean },
          { name: "visibility", in: "query", required: false, schema: ref("AssetVisibility") },
        ],
        responses: { "200": answer(ref("AssetStatsResponseDto")) },
        security: secured,
      },
    },
    "/jobs": {
      get: {
        operationId: "getQueuesLegacy",
        responses: { "200": answer(ref("QueuesResponseLegacyDto")) },
        security: secured,
      },
    },
    "/jobs/{name}": {
      put: {
        operationId: "runQueueCommandLegacy",
        parameters: [{ name: "name", in: "path", required: true, schema: ref("QueueName") }],
        requestBody: { required: true, ...json(ref("QueueCommandDto")) },
        responses: { "200": answer(queue) },
        security: secured,
      },
    },
    "/libraries": {
      get: {
        operationId: "getAllLibraries",
        responses: { "200": answer({ type: "array", items: ref("LibraryResponseDto") }) },
        security: secured,
      },
      post: {
        operationId: "createLibrary",
        requestBody: { required: true, ...json(ref("CreateLibraryDto")) },
        responses: { "201": answer(ref("LibraryResponseDto")) },
        security: secured,
      },
    },
    "/libraries/{id}": {
      delete: {
        operationId: "deleteLibrary",
        parameters: libraryId,
        responses: noContent,
        security: secured,
      },
      get: {
        operationId: "getLibrary",
        parameters: libraryId,
        responses: { "200": answer(ref("LibraryResponseDto")) },
        security: secured,
      },
      put: {
        operationId: "updateLibrary",
        parameters: libraryId,
        requestBody: { required: true, ...json(ref("UpdateLibraryDto")) },
        responses: { "200": answer(ref("LibraryResponseDto")) },
        security: secured,
      },
    },
    "/libraries/{id}/scan": {
      post: {
        operationId: "scanLibrary",
        parameters: libraryId,
        // Immich 1.112.1 required a ScanLibraryDto body; the SDK (and a current server) takes none. Optional here:
        // what the SDK sends passes, and an older client's body is still checked against 1.112.1's DTO.
        requestBody: { required: false, ...json(ref("ScanLibraryDto")) },
        responses: noContent,
        security: secured,
      },
    },
    "/libraries/{id}/statistics": {
      get: {
        operationId: "getLibraryStatistics",
        parameters: libraryId,
        responses: { "200": answer(ref("LibraryStatsResponseDto")) },
        security: secured,
      },
    },
    "/libraries/{id}/validate": {
      post: {
        operationId: "validate",
        parameters: libraryId,
        requestBody: { required: true, ...json(ref("ValidateLibraryDto")) },
        responses: { "200": answer(ref("ValidateLibraryResponseDto")) },
        security: secured,
      },
    },
    "/server/ping": {
      get: {
        operationId: "pingServer",
        responses: { "200": answer(ref("ServerPingResponse")) },
      },
    },
    "/users/me": {
      get: {
        operationId: "getMyUser",
        responses: { "200": answer(ref("UserAdminResponseDto")) },
        security: secured,
      },
    },
  },
  components: {
    schemas: {
      AssetStatsResponseDto: {
        type: "object",
        properties: { images: integer, total: integer, videos: integer },
        required: ["images", "total", "videos"],
      },
      AssetVisibility: { type: "string", enum: ["archive", "timeline", "hidden", "locked"] },
      CreateLibraryDto: {
        type: "object",
        properties: { exclusionPatterns: strings, importPaths: strings, name: string, ownerId: uuid },
        required: ["ownerId"],
      },
      LibraryResponseDto: {
        type: "object",
        properties: {
          assetCount: integer,
          createdAt: dateTime,
          exclusionPatterns: strings,
          id: string,
          importPaths: strings,
          name: string,
          ownerId: string,
          refreshedAt: { ...dateTime, nullable: true },
          updatedAt: dateTime,
        },
        required: ["assetCount", "createdAt", "exclusionPatterns", "id", "importPaths", "name", "ownerId", "refreshedAt", "updatedAt"],
      },
      LibraryStatsResponseDto: {
        type: "object",
        properties: {
          photos: { ...integer, default: 0 },
          total: { ...integer, default: 0 },
          usage: { ...integer, format: "int64", default: 0 },
          videos: { ...integer, default: 0 },
        },
        required: ["photos", "total", "usage", "videos"],
      },
      QueueCommand: { type: "string", enum: ["start", "pause", "resume", "empty", "clear-failed"] },
      QueueCommandDto: {
        type: "object",
        properties: { command: ref("QueueCommand"), force: boolean },
        required: ["command"],
      },
      QueueName: {
        type: "string",
        enum: ["thumbnailGeneration", "metadataExtraction", "videoConversion", "faceDetection", "facialRecognition", "smartSearch",
          "duplicateDetection", "backgroundTask", "storageTemplateMigration", "migration", "search", "sidecar", "library",
          "notifications", "backupDatabase", "ocr", "workflow", "integrityCheck", "editor"],
      },
      QueueResponseLegacyDto: {
        type: "object",
        properties: { jobCounts: ref("QueueStatisticsDto"), queueStatus: ref("QueueStatusLegacyDto") },
        required: ["jobCounts", "queueStatus"],
      },
      QueueStatisticsDto: {
        type: "object",
        properties: { active: integer, completed: integer, delayed: integer, failed: integer, paused: integer, waiting: integer },
        required: ["active", "completed", "delayed", "failed", "paused", "waiting"],
      },
      QueueStatusLegacyDto: {
        type: "object",
        properties: { isActive: boolean, isPaused: boolean },
        required: ["isActive", "isPaused"],
      },
      /** One entry per queue of QueueName (the stand-in answers GET /jobs with exactly these). */
      QueuesResponseLegacyDto: {
        type: "object",
        properties: {
          backgroundTask: queue, backupDatabase: queue, duplicateDetection: queue, editor: queue, faceDetection: queue,
          facialRecognition: queue, integrityCheck: queue, library: queue, metadataExtraction: queue, migration: queue,
          notifications: queue, ocr: queue, search: queue, sidecar: queue, smartSearch: queue, storageTemplateMigration: queue,
          thumbnailGeneration: queue, videoConversion: queue, workflow: queue,
        },
        required: ["backgroundTask", "backupDatabase", "duplicateDetection", "editor", "faceDetection", "facialRecognition",
          "integrityCheck", "library", "metadataExtraction", "migration", "notifications", "ocr", "search", "sidecar", "smartSearch",
          "storageTemplateMigration", "thumbnailGeneration", "videoConversion", "workflow"],
      },
      /** Immich 1.112.1's scan body; not in the SDK (see /libraries/{id}/scan). */
      ScanLibraryDto: {
        type: "object",
        properties: { refreshAllFiles: boolean, refreshModifiedFiles: boolean },
      },
      ServerPingResponse: {
        type: "object",
        properties: { res: { ...string, readOnly: true, example: "pong" } },
        required: ["res"],
      },
      UpdateLibraryDto: {
        type: "object",
        properties: { exclusionPatterns: strings, importPaths: strings, name: string },
      },
      UserAdminResponseDto: {
        type: "object",
        properties: {
          avatarColor: ref("UserAvatarColor"),
          clusterGroupId: string,
          createdAt: dateTime,
          deletedAt: { ...dateTime, nullable: true },
          email: string,
          id: string,
          isAdmin: boolean,
          license: { allOf: [ref("UserLicense")], nullable: true },
          name: string,
          oauthId: string,
          profileChangedAt: dateTime,
          profileImagePath: string,
          quotaSizeInBytes: { ...integer, format: "int64", nullable: true },
          quotaUsageInBytes: { ...integer, format: "int64", nullable: true },
          shouldChangePassword: boolean,
          status: ref("UserStatus"),
          storageLabel: { ...string, nullable: true },
          updatedAt: dateTime,
        },
        required: ["avatarColor", "clusterGroupId", "createdAt", "deletedAt", "email", "id", "isAdmin", "license", "name", "oauthId",
          "profileChangedAt", "profileImagePath", "quotaSizeInBytes", "quotaUsageInBytes", "shouldChangePassword", "status",
          "storageLabel", "updatedAt"],
      },
      UserAvatarColor: { type: "string", enum: ["primary", "pink", "red", "yellow", "blue", "green", "purple", "orange", "gray", "amber"] },
      UserLicense: {
        type: "object",
        properties: { activatedAt: dateTime, activationKey: string, licenseKey: string },
        required: ["activatedAt", "activationKey", "licenseKey"],
      },
      UserStatus: { type: "string", enum: ["active", "removing", "deleted"] },
      ValidateLibraryDto: {
        type: "object",
        properties: { exclusionPatterns: strings, importPaths: strings },
      },
      ValidateLibraryImportPathResponseDto: {
        type: "object",
        properties: { importPath: string, isValid: { ...boolean, default: false }, message: string },
        required: ["importPath", "isValid"],
      },
      ValidateLibraryResponseDto: {
        type: "object",
        properties: { importPaths: { type: "array", items: ref("ValidateLibraryImportPathResponseDto") } },
      },
    },
    securitySchemes: {
      api_key: { type: "apiKey", in: "header", name: "x-api-key" },
      bearer: { type: "http", scheme: "Bearer", bearerFormat: "JWT" },
      cookie: { type: "apiKey", in: "cookie", name: "immich_access_token" },
    },
  },
} as const satisfies OpenApiDocument;

/** contract.json as write-contract.ts writes it (and the test compares it). */
export function contractJson(): string {
  return `${JSON.stringify(contract, null, 2)}\n`;
}

export const REGENERATE_COMMAND = "npx ts-node --transpile-only sandbox/immich-standin/write-contract.ts";

// ---------------------------------------------------------------------------------------------------------
// The TypeScript types the document describes
// ---------------------------------------------------------------------------------------------------------

type Schemas = typeof contract.components.schemas;
export type SchemaName = keyof Schemas;

/** The value a schema of this document describes, as JSON.parse gives it. */
export type FromSchema<S> = S extends { readonly nullable: true } ? NotNull<S> | null : NotNull<S>;

type NotNull<S> =
  S extends { readonly $ref: `#/components/schemas/${infer N extends SchemaName}` } ? FromSchema<Schemas[N]>
  : S extends { readonly allOf: readonly [infer Only] } ? FromSchema<Only>
  : S extends { readonly enum: readonly (infer Value)[] } ? Value
  : S extends { readonly type: "string" } ? string
  : S extends { readonly type: "integer" | "number" } ? number
  : S extends { readonly type: "boolean" } ? boolean
  : S extends { readonly type: "array"; readonly items: infer Items } ? FromSchema<Items>[]
  : S extends { readonly type: "object"; readonly properties: infer Properties }
    ? ObjectOf<Properties, S extends { readonly required: readonly (infer Required)[] } ? Required : never>
  : unknown;

/** Required properties as `key: T`, the others as `key?: T`. */
type ObjectOf<Properties, Required> = Flat<
  { -readonly [K in keyof Properties & Required]: FromSchema<Properties[K]> } &
  { -readonly [K in Exclude<keyof Properties, Required>]?: FromSchema<Properties[K]> }
>;

/** One object type instead of an intersection. */
export type Flat<T> = { [K in keyof T]: T[K] };

/** The type of the schema named N, e.g. `Schema<"CreateLibraryDto">`. */
export type Schema<N extends SchemaName> = FromSchema<Schemas[N]>;
