import { join } from "path";
import { loadShellScript } from "../lib/remote/scripts";

/** A component's script from components/shell/, with the shared shell functions (lib/remote/scripts.ts). */
export function loadScript(name: string, ...libraries: string[]): string {
  return loadShellScript(join(__dirname, "shell"), name, ...libraries);
}
