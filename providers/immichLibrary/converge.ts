// Making Immich match the declared library: the only part of the provider that writes to Immich.
import { engineLog } from "../shared/engineLog";
import { ImmichApi, withImmich } from "./api";
import { ImmichLibraryOutputs, ImmichLibraryProps, IndexingResult, invalidPathsMessage, LibraryView, libraryDifferences } from "./plan";

async function ownerOf(api: ImmichApi, props: ImmichLibraryProps): Promise<string> {
  if (props.ownerId) return props.ownerId;
  const me = await api.me();
  if (props.ownerEmail && me.email.toLowerCase() !== props.ownerEmail.toLowerCase()) {
    throw new Error(`\`library.ownerEmail\` is ${props.ownerEmail}, but the API key belongs to ${me.email}: the API this program uses can ` +
      "only look up the key's own user. Set `library.ownerId` to the owner's id (Immich: Administration → Users → the user), or leave both unset for the key's user.");
  }
  return me.id;
}

/** The library with `knownId`, else the one named `name` (adopted), else undefined. */
async function findLibrary(api: ImmichApi, name: string, knownId?: string): Promise<{ library?: LibraryView; adopted: boolean }> {
  const all = await api.libraries();
  const byId = knownId ? all.find((l) => l.id === knownId) : undefined;
  if (byId) return { library: byId, adopted: false };
  const named = all.filter((l) => l.name === name);
  if (named.length > 1) {
    throw new Error(`Immich has ${named.length} libraries named "${name}" (${named.map((l) => l.id).join(", ")}): delete or rename the extra ones ` +
      "(Administration → External Libraries), or set another `library.name`");
  }
  return { library: named[0], adopted: named.length === 1 };
}

/** Polls Immich until the scan requested at `started` is done; reports progress to the engine. */
async function waitForScan(api: ImmichApi, id: string, started: number, timeoutSeconds: number, log: (m: string) => void): Promise<IndexingResult> {
  let seenBusy = false;
  let lastReport = 0;
  for (;;) {
    const queues = await api.queues();
    const busy = [queues.library, queues.metadataExtraction].some((q) => q && (q.queueStatus.isActive ||
      q.jobCounts.active + q.jobCounts.waiting + q.jobCounts.delayed > 0));
    seenBusy ||= busy;
    const library = await api.library(id);
    const refreshed = library.refreshedAt ? Date.parse(library.refreshedAt) >= started - 1000 : false;
    if (!busy && (seenBusy || refreshed)) break;
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed > timeoutSeconds) {
      throw new Error(`the scan of library ${id} did not finish within ${timeoutSeconds} s (\`library.scanTimeoutSeconds\`); it goes on in Immich`);
    }
    if (Date.now() - lastReport > 3000) {
      lastReport = Date.now();
      log(`scanning: ${library.assetCount ?? 0} assets so far (${elapsed.toFixed(1)} s)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = Math.round(Date.now() - started) / 1000;
  const { total } = await api.statistics(id);
  return { seconds, assetsFound: total, assetsPerSecond: seconds > 0 ? Math.round((total / seconds) * 100) / 100 : 0, startedAt: new Date(started).toISOString() };
}

/**
 * Makes Immich match `props`: finds the library (by id, else by name: adopted), creates it if missing, changes
 * only what differs (after Immich's validate endpoint accepted the import paths), scans after a change.
 * Nothing that writes is called when Immich already matches.
 */
export async function converge(props: ImmichLibraryProps, previous?: Partial<ImmichLibraryOutputs>): Promise<ImmichLibraryOutputs> {
  const log = engineLog();
  return withImmich(props, async (api) => {
    const ownerId = await ownerOf(api, props);
    const found = await findLibrary(api, props.name, previous?.libraryId);
    const changes: string[] = [];
    let library = found.library;
    if (library && library.ownerId !== ownerId) {
      throw new Error(`library "${library.name}" (${library.id}) belongs to another Immich user (${library.ownerId}) and Immich cannot change ` +
        "a library's owner: delete it in Immich, or set another `library.name`");
    }
    if (!library) {
      // The validate endpoint needs a library: create it without import paths, validate, then set them.
      library = await api.create({ ownerId, name: props.name, importPaths: [], exclusionPatterns: props.exclusionPatterns });
      changes.push("created");
      const problem = invalidPathsMessage(props.name, (await api.validate(library.id, props.importPaths)).importPaths ?? []);
      if (problem) {
        await api.remove(library.id);
        throw new Error(problem);
      }
      library = await api.update(library.id, { importPaths: props.importPaths });
    } else {
      if (found.adopted) changes.push("adopted");
      const differing = libraryDifferences(library, props);
      if (differing.includes("importPaths")) {
        const problem = invalidPathsMessage(props.name, (await api.validate(library.id, props.importPaths)).importPaths ?? []);
        if (problem) throw new Error(problem);
      }
      if (differing.length) {
        const dto: { name?: string; importPaths?: string[]; exclusionPatterns?: string[] } = {};
        for (const field of differing) dto[field] = props[field] as never;
        library = await api.update(library.id, dto);
        changes.push(...differing);
      }
    }
    const rescan = (previous?.rescanToken ?? null) !== (props.rescanToken ?? null) && previous !== undefined;
    let indexing = previous?.indexing ?? null;
    if (changes.some((c) => c !== "adopted") || rescan || library.refreshedAt === null) {
      const started = Date.now();
      await api.scan(library.id);
      changes.push("scanned");
      indexing = props.scanAndWait
        ? await waitForScan(api, library.id, started, props.scanTimeoutSeconds, (m) => log(`Immich library "${props.name}": ${m}`))
        : null;
    }
    return { ...props, libraryId: library.id, resolvedOwnerId: ownerId, lastChanges: changes, indexing };
  });
}
