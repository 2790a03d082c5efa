// The end-to-end benchmark's --repeat argument and the target check's median-and-range line.
import { describe, expect, it } from "vitest";
import { overheadSpread, repeatCount } from "../../modules/local-grid/bench";

describe("repeatCount", () => {
  it("is 1 without --repeat and the given count with --only", () => {
    expect(repeatCount(["--only", "1000/4/5"])).toBe(1);
    expect(repeatCount(["--only", "1000/4/5", "--repeat", "5"])).toBe(5);
    expect(repeatCount(["--repeat", "50", "--only", "1000/4/5"])).toBe(50);
  });

  it("names the value and what is allowed when it is not a count from 1 to 50", () => {
    for (const bad of ["0", "51", "2.5", "-1", "five", undefined]) {
      const argv = ["--only", "1000/4/5", "--repeat", ...(bad === undefined ? [] : [bad])];
      expect(() => repeatCount(argv)).toThrow(
        `--repeat ${JSON.stringify(bad ?? "")} must be a whole number of runs from 1 to 50`,
      );
    }
  });

  it("refuses --repeat without --only", () => {
    expect(() => repeatCount(["--repeat", "3"])).toThrow("--repeat applies to --only");
  });
});

describe("overheadSpread", () => {
  it("prints the median, the sorted values and the range", () => {
    expect(overheadSpread([21.14, 18.2, 19.96])).toBe(
      "median 20.0 ms over 3 sessions (18.2, 20.0, 21.1; range 18.2-21.1 ms)",
    );
  });

  it("takes the mean of the middle two for an even count", () => {
    expect(overheadSpread([20, 18, 24, 19])).toBe(
      "median 19.5 ms over 4 sessions (18.0, 19.0, 20.0, 24.0; range 18.0-24.0 ms)",
    );
  });
});
