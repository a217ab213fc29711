// The chat page: asks POST /ui/chat, which streams the answer through streamfold.relay in
// "events" mode, shows the text as it comes, the stats at the end, and stops on request.
import { readEvents } from "./sse.js";

const $ = (id) => document.getElementById(id);
const form = $("ask"), prompt = $("prompt"), send = $("send"), stop = $("stop");
const conversation = $("conversation"), status = $("status"), stats = $("stats"), model = $("model");
const history = [];
let controller = null;

fetch("/ui/config").then((r) => r.json()).then((config) => {
  model.value = model.value || config.model;
  $("upstream-name").textContent = config.upstream;
});

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function addMessage(role) {
  const element = document.createElement("div");
  element.className = `message ${role}`;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role;
  element.append(label);
  conversation.append(element);
  return element;
}

// A growing text node (appending to it does not copy the text so far).
function textPart(message, className) {
  const part = document.createElement("div");
  part.className = className;
  const text = document.createTextNode("");
  part.append(text);
  message.append(part);
  return text;
}

function ms(seconds) {
  return `${Math.round(seconds)} ms`;
}

function showStats(completion, chunks, timing) {
  const parts = [`model ${completion.model || "?"}`];
  parts.push(`finish ${completion.choices.map((c) => c.finish_reason).join(", ") || "-"}`);
  parts.push(`${chunks} chunks`, `first token ${timing.first === null ? "-" : ms(timing.first)}`,
             `total ${ms(timing.total)}`);
  const tokens = completion.usage && completion.usage.completion_tokens;
  if (Number.isInteger(tokens)) {
    parts.push(`${tokens} output tokens`, `${(tokens / (timing.total / 1000)).toFixed(1)} tokens/s`);
  }
  stats.textContent = parts.join(" | ");
}

async function ask(question) {
  history.push({ role: "user", content: question });
  textPart(addMessage("user"), "text").appendData(question);
  const message = addMessage("assistant");
  let reasoning = null;
  const answer = textPart(message, "answer");
  controller = new AbortController();
  send.disabled = true;
  stop.disabled = false;
  stats.textContent = "";
  setStatus("streaming", "streaming…");
  const started = performance.now();
  let first = null;
  try {
    const response = await fetch("/ui/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: model.value, messages: history }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
    }
    let completion = null, chunks = 0;
    for await (const event of readEvents(response.body)) {
      if (event.data === "[DONE]") break;
      const item = JSON.parse(event.data);
      if (item.type === "content.delta" && item.choice_index === 0) {
        if (first === null) first = performance.now() - started;
        answer.appendData(item.delta);
      } else if (item.type === "reasoning.delta" && item.choice_index === 0) {
        if (reasoning === null) reasoning = textPart(message, "reasoning");
        reasoning.appendData(item.delta);
      } else if (item.type === "tool_calls.function.arguments.done" && item.choice_index === 0) {
        textPart(message, "tool-call").appendData(`[tool call] ${item.name}(${item.arguments})`);
      } else if (item.type === "completion") {
        completion = item.completion;
        chunks = item.chunks;
      } else if (item.type === "error") {
        throw new Error(item.error.message);
      }
    }
    if (completion === null) throw new Error("the stream ended before its end");
    showStats(completion, chunks, { first, total: performance.now() - started });
    setStatus("done", "done");
  } catch (error) {
    if (error.name === "AbortError") {
      message.classList.add("stopped");
      setStatus("stopped", "stopped");
    } else {
      setStatus("error", `error: ${error.message}`);
    }
  } finally {
    history.push({ role: "assistant", content: answer.data });
    controller = null;
    send.disabled = false;
    stop.disabled = true;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = prompt.value.trim();
  if (!question || controller) return;
  prompt.value = "";
  ask(question);
});
prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
stop.addEventListener("click", () => controller && controller.abort());
