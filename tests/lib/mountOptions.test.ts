import { parseCompressionOption, parseCompressionSetting } from "../../lib/mountOptions";

describe("parseCompressionSetting (storage.compression, the subvolume's property)", () => {
  test.each<[string, ReturnType<typeof parseCompressionSetting>]>([
    ["zstd", { algorithm: "zstd", rest: [] }],
    ["zstd:3", { algorithm: "zstd", level: "3", rest: [] }],
    ["lzo", { algorithm: "lzo", rest: [] }],
    ["zstd:3:4", { algorithm: "zstd", level: "3", rest: ["4"] }],
  ])("%s", (value, parsed) => {
    expect(parseCompressionSetting(value)).toStrictEqual(parsed);
  });
});

describe("parseCompressionOption (a mount option)", () => {
  test.each<[string, ReturnType<typeof parseCompressionOption>]>([
    ["compress=zstd", { option: "compress=zstd", name: "compress", algorithm: "zstd" }],
    ["compress=zstd:3", { option: "compress=zstd:3", name: "compress", algorithm: "zstd", level: "3" }],
    ["compress-force=zlib:9", { option: "compress-force=zlib:9", name: "compress-force", algorithm: "zlib", level: "9" }],
    ["compress", { option: "compress", name: "compress", algorithm: "zlib" }],
    ["compress=zstd:3:4", { option: "compress=zstd:3:4", name: "compress", algorithm: "zstd", level: "3:4" }],
    ["noatime", undefined],
    ["compression=zstd", undefined],
  ])("%s", (option, parsed) => {
    expect(parseCompressionOption(option)).toStrictEqual(parsed);
  });
});
