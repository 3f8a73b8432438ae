/** Args that carry what the host look found, not what is declared. */
type Observation = "drift" | "valueDrift" | "hostSha256" | "hostText";

/**
 * A component's args as the engine sees them (policies read these). What the host look found is left
 * out: it changes whenever the host does, and the engine would show every such change as an update of
 * the component itself even when nothing is to be done.
 */
export function engineInputs<T extends object>(args: T): Omit<T, Observation> {
  const { drift: _d, valueDrift: _v, hostSha256: _h, hostText: _t, ...rest } = args as T & Partial<Record<Observation, unknown>>;
  return rest as Omit<T, Observation>;
}
