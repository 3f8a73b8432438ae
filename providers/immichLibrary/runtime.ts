// The half of the ImmichLibrary dynamic provider that runs inside the engine's provider process. The
// serialized provider in the state only `require`s this module from the checkout (providers/checkout-provider.js).
//
// Transport: Immich listens on loopback on SKYLAB, and SSH is the only way in: every operation opens one
// local port forward (lib/remote/tunnel.ts) and talks to Immich through it with @immich/sdk (api.ts).
import { engineLog } from "../shared/engineLog";
import { withImmich } from "./api";
import { converge } from "./converge";
import { ImmichLibraryOutputs, ImmichLibraryProps, recordLibrary } from "./plan";

export { diff } from "./diff";

export async function create(props: ImmichLibraryProps): Promise<{ id: string; outs: ImmichLibraryOutputs }> {
  const outs = await converge(props);
  return { id: outs.libraryId, outs };
}

export async function update(olds: ImmichLibraryOutputs, news: ImmichLibraryProps): Promise<{ outs: ImmichLibraryOutputs }> {
  return { outs: await converge(news, olds) };
}

/** Deletes the library only when `deleteOnDestroy`: it holds the users' albums, faces and metadata. */
export async function remove(props: ImmichLibraryOutputs): Promise<void> {
  if (!props.deleteOnDestroy) {
    engineLog()(`Immich library "${props.name}" (${props.libraryId}) is kept in Immich (library.deleteOnDestroy is false)`);
    return;
  }
  await withImmich(props, async (api) => {
    const all = await api.libraries();
    if (all.some((l) => l.id === props.libraryId)) await api.remove(props.libraryId);
  });
}

/**
 * `pulumi refresh`: the library as Immich holds it now (one read-only look, GET only). A library deleted in
 * Immich reads as gone (an empty id): the refresh drops it from the state and the next up creates it again.
 */
export async function read(id: string, props: ImmichLibraryOutputs): Promise<{ id: string; props: ImmichLibraryOutputs }> {
  if (!props.libraryId) return { id, props };
  return withImmich(props, async (api) => {
    const library = (await api.libraries()).find((l) => l.id === props.libraryId);
    return library ? { id, props: recordLibrary(props, library) } : { id: "", props };
  });
}
