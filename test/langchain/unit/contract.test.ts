/** What LangChain's standard chat-model unit suite checks, for the defects an outside run found (issue 13 A1–A3). */
import assert from "node:assert/strict";
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";

describe("langchain/ChatKVLink standard-suite contract (fake engine)", function () {
  it("getLsParams always has ls_stop, as the base class does (undefined without a stop list)", () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    const params = model.getLsParams({} as never);
    assert.ok("ls_stop" in params, JSON.stringify(params));
    assert.equal(params.ls_stop, undefined);
    const withStop = new ChatKVLink({ engine: new FakeKvLinkEngine(), stop: ["END"] }).getLsParams({} as never);
    assert.deepEqual(withStop.ls_stop, ["END"]);
  });

  it("response_metadata has model as well as model_name", async () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    const answer = await model.invoke("hi");
    assert.equal(answer.response_metadata["model"], model.model);
    assert.equal(answer.response_metadata["model_name"], model.model);
  });

  it("a history whose AIMessage has tool_use content blocks (list content) is accepted", async () => {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine });
    const history = [
      new HumanMessage("What is the weather in Paris?"),
      new AIMessage({
        content: [{ type: "text", text: "Let me check." }, { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }],
        tool_calls: [{ id: "call_1", name: "get_weather", args: { city: "Paris" } }],
      }),
      new ToolMessage({ content: "sunny", tool_call_id: "call_1", name: "get_weather" }),
      new HumanMessage("Thanks. And now?"),
    ];
    await model.invoke(history);
    const assistant = engine.requests[0]?.messages?.find((m) => m.role === "assistant");
    assert.ok(assistant?.content.startsWith("Let me check."));
    assert.ok(assistant?.content.includes("get_weather"));
  });
});
