import { lineDiff } from "../../../providers/remoteScript/lineDiff";

describe("lineDiff: the lines up changes, host first", () => {
  test.each<[string, string, string, string]>([
    ["a line added by hand goes", "a\nb\n# by hand\n", "a\nb\n", "@@ line 3\n-# by hand"],
    ["a line deleted by hand comes back", "a\nc\n", "a\nb\nc\n", "@@ line 2\n+b"],
    ["a changed line: the host's goes, the declared one comes", "a\nB\nc\n", "a\nb\nc\n", "@@ line 2\n-B\n+b"],
    ["two separate runs, each with its header", "x\nb\ny\nd\n", "a\nb\nc\nd\n", "@@ line 1\n-x\n+a\n@@ line 3\n-y\n+c"],
    ["identical text: nothing", "a\nb\n", "a\nb\n", ""],
  ])("%s", (_name, onHost, expected, diff) => {
    expect(lineDiff(onHost, expected)).toBe(diff);
  });

  test("a long diff is cut, saying how many lines are left out", () => {
    const onHost = Array.from({ length: 50 }, (_, i) => `host ${i}`).join("\n");
    const lines = lineDiff(onHost, "", 5).split("\n");
    expect(lines).toStrictEqual(["@@ line 1", "-host 0", "-host 1", "-host 2", "-host 3", "… 47 more lines"]);
  });
});
