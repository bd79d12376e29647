import assert from "node:assert/strict";
import { cosSinTable } from "../../../../packages/core/src/rope/cosSinTable.js";
import { assertAllClose } from "../../../support/assertAllClose.js";

describe("cosSinTable", () => {
  it("holds cos/sin(position · invFreq) in [numPositions, rotaryDim/2] layout", () => {
    const table = cosSinTable({ theta: 10000, rotaryDim: 4 }, [0, 3, 1000]);
    assert.equal(table.halfDim, 2);
    assert.equal(table.numPositions, 3);
    assertAllClose(table.cos, [1, 1, Math.cos(3), Math.cos(0.03), Math.cos(1000), Math.cos(10)], { atol: 1e-7 });
    assertAllClose(table.sin, [0, 0, Math.sin(3), Math.sin(0.03), Math.sin(1000), Math.sin(10)], { atol: 1e-7 });
  });
});
