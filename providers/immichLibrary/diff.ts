// The ImmichLibrary provider's diff: the inputs first, then (when they match) one read-only look at Immich.
import { engineLog } from "../shared/engineLog";
import { withImmich } from "./api";
import { ImmichLibraryOutputs, ImmichLibraryProps, inputChanges, libraryDifferences } from "./plan";

/** The engine's marker for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * Drift: one read-only look at Immich (GET only) from the diff, so a library changed or deleted by hand shows
 * in preview and is repaired by up. Unreachable Immich is reported as a warning, not as a change.
 */
export async function lookForDrift(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): Promise<string[]> {
  if (process.env.SKYLAB_SKIP_HOST_LOOK === "1" || JSON.stringify(news).includes(UNKNOWN) || !olds.libraryId) return [];
  try {
    return await withImmich(news, async (api) => {
      const all = await api.libraries();
      const library = all.find((l) => l.id === olds.libraryId);
      if (!library) return [`drift: library ${olds.libraryId} is gone from Immich`];
      return libraryDifferences(library, news).map((field) => `drift: ${field} was changed in Immich`);
    });
  } catch (error) {
    engineLog("WARNING")(`Immich library "${news.name}": could not look at Immich, drift NOT checked: ${(error as Error).message}`);
    return [];
  }
}

export async function diff(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): Promise<{ changes: boolean; reasons: string[] }> {
  const reasons = inputChanges(olds, news);
  if (!reasons.length) reasons.push(...(await lookForDrift(olds, news)));
  return { changes: reasons.length > 0, reasons };
}
