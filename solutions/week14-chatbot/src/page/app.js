// The chat page's script. It POSTs each question to /chat and reads the
// answer as it streams: fetch() and a stream reader, because EventSource can
// only GET. Everything the model writes is untrusted, so it reaches the page
// as text (textContent, text nodes), never as markup.
"use strict";

// One session per page load: 32 random hex digits, within
// ^[A-Za-z0-9_-]{1,64}$. getRandomValues works on plain http too, where
// crypto.randomUUID does not exist.
const SESSION_ID = Array.from(crypto.getRandomValues(new Uint8Array(16)),
  (b) => b.toString(16).padStart(2, "0")).join("");

let previous = null; // { question, answer } of the exchange on show

function byId(id) {
  return document.getElementById(id);
}

// Moves the exchange on show into #history before a new one starts.
function archive() {
  if (previous === null) return;
  const item = document.createElement("li");
  const question = document.createElement("div");
  question.className = "question";
  question.textContent = previous.question;
  const answer = document.createElement("div");
  answer.textContent = byId("answer").textContent;
  item.append(question, answer);
  byId("history").append(item);
  previous = null;
}

function showSources(ids) {
  const list = byId("sources");
  list.replaceChildren();
  for (const id of ids) {
    const item = document.createElement("li");
    item.textContent = id;
    list.append(item);
  }
}

function fail(message) {
  const answer = byId("answer");
  answer.append(document.createTextNode(answer.textContent ? "\n" + message : message));
  answer.dataset.state = "error";
}

// One server-sent event: its name and its data lines joined (the
// standard's rules; comments and other fields are ignored).
function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return { name, data: data.join("\n") };
}

// Applies one event; true once the answer is over (done or error).
function handle(event) {
  const answer = byId("answer");
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return false;
  }
  switch (event.name) {
    case "sources":
      showSources(data.sources || []);
      return false;
    case "token":
      // Appended as a text node: markup in the answer stays literal text.
      answer.append(document.createTextNode(data.text || ""));
      return false;
    case "done":
      answer.dataset.state = "done";
      return true;
    case "error":
      fail("The answer broke off: " + (data.error || "unknown error"));
      return true;
    default:
      return false;
  }
}

async function send() {
  const input = byId("message");
  const button = byId("send");
  const question = input.value;
  if (question.trim() === "" || button.disabled) return;
  archive();
  previous = { question };
  const answer = byId("answer");
  answer.textContent = "";
  answer.dataset.state = "streaming";
  showSources([]);
  button.disabled = true;
  input.value = "";
  try {
    const response = await fetch("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: SESSION_ID, message: question }),
    });
    if (!response.ok || !response.body) {
      let message = "HTTP " + response.status;
      try {
        message = (await response.json()).error || message;
      } catch {
        // Not JSON: keep the status.
      }
      fail(message);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let finished = false;
    while (!finished) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while (!finished && (end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        finished = handle(parseEvent(block));
      }
    }
    if (!finished) fail("The connection closed before the answer was complete.");
  } catch (err) {
    fail("The request failed: " + err.message);
  } finally {
    button.disabled = false;
    input.focus();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  byId("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  byId("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
});
