import { engineInputs } from "../../components/inputs";

describe("engineInputs", () => {
  test("drops what the host look found and keeps the declared args", () => {
    expect(engineInputs({ a: 1, drift: "x", valueDrift: "y", hostSha256: null, hostText: "t" })).toStrictEqual({ a: 1 });
  });
});
