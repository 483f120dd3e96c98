// Skip reasons say what is missing and where to declare it: a run over
// `--protocol grpc` without --config used to skip protocols/grpc-http2 because
// "the server does not declare protocol grpc", which reads as a fault of the server.
import { describe, expect, it } from "vitest";
import { loadFeatures, missingFeature } from "./features.js";

describe("missingFeature's reasons", () => {
  it("name the defaults and the example file when no --config was given", () => {
    const reason = missingFeature(loadFeatures(undefined), { token: "t" }, "protocol:grpc");
    expect(reason).toBe(
      "protocol grpc (protocols: [connect-json, connect-proto]) is not declared in the default features " +
        "(no --config given; conformance/reference-server.features.yaml declares every feature)",
    );
  });

  it("name the features file that leaves it out", () => {
    const features = loadFeatures("conformance/reference-server.features.yaml");
    expect(missingFeature(features, { token: "t" }, "protocol:grpc")).toBeUndefined();
    expect(missingFeature({ ...features, http2: false }, { token: "t" }, "http2")).toBe(
      "http2: true is not declared in the features file conformance/reference-server.features.yaml",
    );
    expect(missingFeature(features, { token: "t" }, "token2")).toBe("no --token2 given");
  });
});
