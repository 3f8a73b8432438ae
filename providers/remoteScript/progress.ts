import { engineLog } from "../shared/engineLog";

/**
 * Long steps report progress: the script writes `progress: ...` lines to stderr and they reach the
 * engine's log, at most one every few seconds so a copy of many files does not flood it. A line held back
 * is sent when its window ends, so the last word before a long wait ("waiting for ...") is always shown.
 */
export function progressReporter(description: string): { line: (line: string) => void; flush: () => void } {
  const engine = engineLog();
  const windowMs = 3000;
  let last = 0;
  let held: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const emit = (message: string) => engine(`${description}: ${message}`);
  const release = () => {
    timer = undefined;
    if (held === undefined) return;
    last = Date.now();
    emit(held);
    held = undefined;
  };
  return {
    line: (line: string) => {
      if (!line.startsWith("progress: ")) return;
      held = line.slice("progress: ".length);
      const wait = last + windowMs - Date.now();
      if (wait <= 0) release();
      else timer ??= setTimeout(release, wait);
    },
    flush: () => {
      if (timer) clearTimeout(timer);
      release();
    },
  };
}
