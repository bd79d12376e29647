import assert from "node:assert/strict";
import { VERSION } from "../../../packages/core/src/index.js";
describe("smoke", () => { it("has a version", () => { assert.equal(VERSION, "0.1.0"); }); });
