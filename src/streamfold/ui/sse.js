// Server-sent events read from a fetch() response body, parsed as the HTML standard says.
//
// A read may end anywhere, and nothing is lost or split wrongly when it does: inside a
// UTF-8 character (the decoder keeps the bytes until the character is whole), inside a
// line (kept until its line end comes), or between the CR and the LF of a CR LF (that LF
// is skipped when it comes).  Lines end with CR LF, LF or CR; an empty line ends an event;
// lines starting with ':' are comments (keep-alives); an event the stream's end cuts off
// is dropped.

export class EventStreamParser {
  constructor() {
    this.buffer = "";      // the start of a line whose end has not come yet
    this.skipLF = false;   // the last text ended with a CR: a LF first in the next is its pair
    this.lineEnd = /\r\n?|\n/g;
    this.type = "";
    this.data = [];
    this.lastEventId = "";
  }

  // Feed decoded text; returns the events it completed, as {event, data, id}.
  feed(text) {
    if (this.skipLF && text) {
      if (text[0] === "\n") text = text.slice(1);
      this.skipLF = false;
    }
    const buffer = this.buffer + text;
    const events = [];
    const lineEnd = this.lineEnd;
    lineEnd.lastIndex = 0;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(buffer)) !== null) {
      this.line(buffer.slice(start, match.index), events);
      start = lineEnd.lastIndex;
      if (match[0] === "\r" && start === buffer.length) this.skipLF = true;
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  line(line, events) {
    if (line === "") {
      if (this.data.length) {
        events.push({ event: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.type = "";
      this.data = [];
      return;
    }
    if (line[0] === ":") return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
  }
}

// The events of a response body, as they arrive; leaving the loop early cancels the body.
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
    finished = true;
    yield* parser.feed(decoder.decode());
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
