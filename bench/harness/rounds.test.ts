import { describe, expect, it } from "vitest";
import { interleave } from "./rounds.js";

describe("interleave", () => {
  it("discards the warm-up and rotates who goes first in each measured round", async () => {
    const order: string[] = [];
    const side = (name: string) => async ({ index, warmup }: { index: number; warmup: boolean }) => {
      order.push(`${warmup ? "w" : ""}${name}${index}`);
      return index;
    };
    const results = await interleave({ warmup: 1, rounds: 4 }, { a: side("a"), b: side("b") });
    expect(order).toEqual(["wa0", "wb0", "a1", "b1", "b2", "a2", "a3", "b3", "b4", "a4"]);
    expect(results).toEqual({ a: [1, 2, 3, 4], b: [1, 2, 3, 4] });
  });

  it("fails the whole run when one side fails, rather than reporting fewer rounds", async () => {
    await expect(
      interleave({ warmup: 0, rounds: 3 }, { a: async () => 1, b: async ({ index }) => (index === 1 ? Promise.reject(new Error("broke")) : 1) }),
    ).rejects.toThrow("broke");
  });
});
