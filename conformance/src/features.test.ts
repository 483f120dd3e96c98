// Skip reasons say what is missing and where to declare it: a run over
// `--protocol grpc` without --config used to skip protocols/grpc-http2 because
// "the server does not declare protocol grpc", which reads as a fault of the server.
import { describe, expect, it } from "vitest";
import { loadFeatures, missingFeature, parseFeatures } from "./features.js";

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

describe("the filters feature", () => {
  it("lists the fields indexed in every collection; cases needing more, or an unindexed one, say why they skip", () => {
    const features = parseFeatures("filters: {fields: [list]}", "f.yaml");
    expect(features.filters).toEqual({ fields: ["list"], everyField: false });
    expect(missingFeature(features, {}, "filters")).toBeUndefined();
    expect(missingFeature(features, {}, "filters:2")).toMatch(/^2 indexed fields \(filters.fields: \[list\]\) is not declared in /);
    expect(missingFeature(features, {}, "filters-unindexed")).toBeUndefined();
    const every = parseFeatures("filters: {fields: [list, tag], everyField: true}", "f.yaml");
    expect(missingFeature(every, {}, "filters:2")).toBeUndefined();
    expect(missingFeature(every, {}, "filters-unindexed")).toMatch(/everyField: true/);
    const none = parseFeatures("http2: true", "f.yaml");
    expect(missingFeature(none, {}, "filters")).toMatch(/^filters \(the fields indexed in every collection, filters.fields\) is not declared in /);
  });

  it("refuses an empty field list and unknown keys", () => {
    expect(() => parseFeatures("filters: {fields: []}")).toThrow(/filters.fields/);
    expect(() => parseFeatures("filters: {fields: [a], indexes: [b]}")).toThrow(/unknown key indexes/);
  });

  it("is declared for the reference server, as REFERENCE_SETUP indexes it", () => {
    expect(loadFeatures("conformance/reference-server.features.yaml").filters?.fields).toEqual(["list", "tag"]);
    expect(loadFeatures("conformance/reference-cluster.features.yaml").filters?.fields).toEqual(["list", "tag"]);
  });
});
