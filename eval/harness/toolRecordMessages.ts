import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCallRecord } from "../generators/toolCalls.js";

/**
 * A tool-calling record's conversation as LangChain messages: what an agent sends ChatKVLink. The harness invokes
 * ChatKVLink with them; training renders them through the adapter's own conversion (toEngineConversation and
 * withToolInstructions), so both see the same prompt.
 */
export function toolRecordMessages(record: Pick<ToolCallRecord, "messages">): BaseMessage[] {
  return record.messages.map((m): BaseMessage => {
    switch (m.role) {
      case "system":
        return new SystemMessage(m.content);
      case "user":
        return new HumanMessage(m.content);
      case "assistant":
        return new AIMessage({ content: m.content, tool_calls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, args: c.args, type: "tool_call" as const })) });
      case "tool":
        return new ToolMessage({ content: m.content, tool_call_id: m.toolCallId, name: m.name });
    }
  });
}
