/**
 * The lines `up` changes in a file, as `diff` shows them: `-` for a line on the host that goes, `+` for a
 * line put back, unchanged lines left out (a `@@ line N` header before each run of changes). Files are
 * generated modules of a few dozen lines, so a plain longest-common-subsequence table is enough.
 */
export function lineDiff(onHost: string, expected: string, maxLines = 40): string {
  const a = onHost.split("\n");
  const b = expected.split("\n");
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let inRun = false;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
      inRun = false;
      continue;
    }
    if (!inRun) out.push(`@@ line ${j + 1}`);
    inRun = true;
    if (i < a.length && (j >= b.length || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(`-${a[i++]}`);
    else out.push(`+${b[j++]}`);
  }
  if (out.length > maxLines) return [...out.slice(0, maxLines), `… ${out.length - maxLines} more lines`].join("\n");
  return out.join("\n");
}
