import { describe, expect, it } from "vitest";
import { randomServiceName } from "./random-name.js";

describe("randomServiceName", () => {
  it("joins an adjective and a scientist picked by the random source", () => {
    expect(randomServiceName(() => 0)).toBe("admiring_albattani");
    expect(randomServiceName(() => 0.999)).toBe("zen_zhukovsky");
    const draws = [0.2, 0.25];
    expect(randomServiceName(() => draws.shift()!)).toBe("eloquent_hopper");
  });
});
