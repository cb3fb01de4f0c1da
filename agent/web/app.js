// Marquee web chat. The whole conversation is kept here as OpenAI `messages` and sent with each
// question to POST /v1/chat/completions (stream: true). Each streamed chunk that carries a
// `marquee_recommendation` (beyond the OpenAI spec: item_id, title, year, genres, explanation)
// becomes a film card; the chunks' text content is the assistant turn kept in `messages`.
// Buttons post interactions (POST /v1/users/{id}/interactions) or ask a follow-up.
// Catalog and model text is always inserted as text (textContent), never as HTML.
// A server started with --api-key answers 401 without it: api() then asks for the key once,
// keeps it in localStorage (like the user id) and sends it as `Authorization: Bearer <key>`.
"use strict";

const $ = (sel) => document.querySelector(sel);
const USER_KEY = "marquee.user";
const API_KEY = "marquee.apiKey";
let asking = null; // the one key prompt in flight, shared by every request that got a 401
const state = { model: "marquee", messages: [], busy: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function userId() {
  return $("#user-id").value.trim();
}

function newEventId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts (localhost, https)
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// fetch() with the stored API key; on a 401, ask for the key (once, however many requests got
// it) and retry with it. A wrong key is forgotten, so the next 401 asks again.
async function api(path, options = {}) {
  const call = (key) => {
    const headers = { ...(options.headers || {}), ...(key ? { Authorization: `Bearer ${key}` } : {}) };
    return fetch(path, { ...options, headers });
  };
  const used = localStorage.getItem(API_KEY);
  const resp = await call(used);
  if (resp.status !== 401) return resp;
  if (asking) await asking; // another request is asking already
  else if (localStorage.getItem(API_KEY) === used) { // no newer key than the one refused: ask
    asking = Promise.resolve().then(() => {
      localStorage.removeItem(API_KEY);
      const key = window.prompt("This Marquee server needs an API key. Enter it (it is kept in this browser):");
      if (key && key.trim()) localStorage.setItem(API_KEY, key.trim());
    }).finally(() => { asking = null; });
    await asking;
  }
  const key = localStorage.getItem(API_KEY);
  return key && key !== used ? call(key) : resp;
}

// An OpenAI-shaped error body's message, or the HTTP status when the body is something else.
async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `HTTP ${resp.status} ${resp.statusText}`.trim();
}

function showError(message) {
  const box = $("#error");
  box.textContent = message ? `Error: ${message}` : "";
  box.hidden = !message;
}

function setStatus(text) {
  $("#status").textContent = text;
}

// Server-sent events from a fetch response: yields each `data:` payload parsed as JSON, until [DONE].
async function* sseEvents(resp) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

function label(rec) {
  return rec.year ? `${rec.title} (${rec.year})` : rec.title;
}

function posterFor(rec) {
  const src = `/v1/items/${encodeURIComponent(rec.item_id)}/poster`;
  const keyed = localStorage.getItem(API_KEY); // an <img> cannot send the key: fetch the image with it
  const img = el("img", {
    class: "poster", ...(keyed ? {} : { src }),
    alt: `Poster of ${label(rec)}`, width: "85", height: "128", loading: "lazy", decoding: "async",
  });
  // No poster for this film (404) or an unreadable file: a text placeholder of the same size.
  const none = () => img.replaceWith(el("div", { class: "poster placeholder", text: "No poster" }));
  img.addEventListener("error", none, { once: true });
  if (keyed) {
    api(src).then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.status))))
      .then((b) => { img.src = URL.createObjectURL(b); }).catch(none);
  }
  return img;
}

const ACTIONS = [
  { text: "Seen it", type: "watched", saved: "Saved: you have seen it." },
  { text: "More like this" },
  { text: "Not for me", type: "disliked", saved: "Saved: not for you." },
];

// `pending`: the film is ranked (marquee_ranking) but its explanation is still being written; the
// card is replaced by the full one when its marquee_recommendation arrives.
function filmCard(rec, pending = false) {
  const headingId = `film-${rec.rank}-${Math.random().toString(36).slice(2, 8)}`;
  const feedback = el("p", { class: "feedback", role: "status" });
  const actions = el("div", { class: "actions", role: "group", "aria-label": `Actions for ${label(rec)}` });
  for (const a of pending ? [] : ACTIONS) {
    const button = el("button", { type: "button", class: "action", text: a.text });
    if (a.type) {
      button.setAttribute("aria-pressed", "false");
      button.dataset.type = a.type;
      button.addEventListener("click", () => mark(rec, a, button, feedback));
    } else {
      button.addEventListener("click", () => send(`More like ${label(rec)}`));
    }
    actions.append(button);
  }
  const genres = rec.genres && rec.genres.length ? el("p", { class: "genres", text: rec.genres.join(" · ") }) : "";
  // the evidence's closest film of the viewer's own (marquee extension), when there is one
  const link = !pending && rec.evidence && rec.evidence.links && rec.evidence.links[0];
  const because = link ? el("p", { class: "because", text: `Because you ${link.liked ? "liked" : "watched"} ${link.label}` }) : "";
  const article = el("article", { class: pending ? "film pending" : "film", "aria-labelledby": headingId,
                                  "data-item-id": rec.item_id, "aria-busy": pending ? "true" : "false" },
    posterFor(rec),
    el("div", { class: "film-body" },
      el("h3", { id: headingId, text: `${rec.rank}. ${label(rec)}` }),
      genres, because,
      el("p", { class: "explanation", text: pending ? "Writing why this fits…" : rec.explanation }),
      actions, feedback));
  return el("li", {}, article);
}

// Post one interaction event; a retry after a failure re-sends the same event (same event_id), so
// the server stores it once. A saved event is not sent again.
async function mark(rec, action, button, feedback) {
  if (button.getAttribute("aria-pressed") === "true" || button.dataset.sending) return;
  const user = userId();
  if (!user) {
    feedback.textContent = "Enter a user id (under You) to save this.";
    $("#user-id").focus();
    return;
  }
  if (!button._event || button._event.user !== user) {
    button._event = { user, body: { event_id: newEventId(), item_id: rec.item_id, type: action.type, rating: null,
                                    timestamp: Math.floor(Date.now() / 1000) } };
  }
  button.dataset.sending = "1";
  feedback.textContent = "Saving…";
  try {
    const resp = await api(`/v1/users/${encodeURIComponent(user)}/interactions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: [button._event.body] }),
    });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    button.setAttribute("aria-pressed", "true");
    feedback.textContent = action.saved;
    loadProfile();
  } catch (e) {
    feedback.textContent = `Not saved: ${e.message}`;
  } finally {
    delete button.dataset.sending;
  }
}

function addTurn(role, text) {
  const who = role === "user" ? "You" : "Marquee";
  const body = el("div", { class: "turn-body" });
  if (text) body.append(el("p", { class: "said", text }));
  const li = el("li", { class: `turn ${role}` }, el("p", { class: "who", text: who }), body);
  $("#log").append(li);
  return body;
}

function setBusy(busy) {
  state.busy = busy;
  $("#send").disabled = busy;
  setStatus(busy ? "Marquee is choosing films…" : "");
}

async function send(text) {
  text = text.trim();
  if (!text || state.busy) return;
  showError("");
  state.messages.push({ role: "user", content: text });
  const asked = addTurn("user", text);
  asked.parentElement.scrollIntoView({ block: "start" });
  const body = addTurn("assistant");
  const lead = el("p", { class: "said" });
  const cards = el("ol", { class: "films" });
  const notes = el("p", { class: "notes" });
  body.append(lead, cards, notes);
  setBusy(true);
  let content = "", leadText = "";
  const byId = new Map(); // item_id -> card <li>
  try {
    const request = { model: state.model, messages: state.messages, stream: true };
    const user = userId();
    if (user) request.user = user;
    const resp = await api("/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    let finished = false;
    for await (const ev of sseEvents(resp)) {
      if (ev.error) throw new Error(ev.error.message); // an error after the stream started
      const choice = (ev.choices && ev.choices[0]) || {};
      const delta = choice.delta || {};
      if (delta.content) content += delta.content;
      if (ev.marquee_ranking) {
        // the order is known before the explanations: show every film at once, then fill in
        for (const r of ev.marquee_ranking) {
          const card = filmCard({ ...r, genres: [], explanation: "" }, true);
          byId.set(r.item_id, card);
          cards.append(card);
        }
      } else if (ev.marquee_recommendation) {
        const rec = ev.marquee_recommendation;
        const card = filmCard(rec);
        const old = byId.get(rec.item_id);
        if (old) old.replaceWith(card); else cards.append(card);
        byId.set(rec.item_id, card);
      } else if (delta.content && !cards.children.length) lead.textContent = (leadText += delta.content).trim();
      if (ev.marquee && ev.marquee.notes && ev.marquee.notes.length) notes.textContent = ev.marquee.notes.join(" · ");
      if (choice.finish_reason) finished = true;
    }
    if (!finished) throw new Error("the answer stopped before it was complete");
    for (const c of cards.querySelectorAll("article.pending")) c.closest("li").remove(); // never explained
    state.messages.push({ role: "assistant", content });
  } catch (e) {
    // Drop the failed question from the conversation (so the next one is not built on it) and
    // give its text back to retry.
    state.messages.pop();
    body.append(el("p", { class: "failed", text: "This answer failed; your question is back in the box." }));
    $("#ask").value = text;
    showError(e.message || String(e));
  } finally {
    setBusy(false);
  }
}

async function loadProfile() {
  const out = $("#profile-text");
  const user = userId();
  if (!user) {
    out.textContent = "Enter a user id to see your profile.";
    return;
  }
  try {
    const resp = await api(`/v1/users/${encodeURIComponent(user)}/profile`);
    if (resp.status === 404) {
      out.textContent = "No profile yet: mark films you have seen, or ask for some.";
      return;
    }
    if (!resp.ok) throw new Error(await errorMessage(resp));
    const data = await resp.json();
    const text = data.profile && data.profile.text;
    out.textContent = text || "No profile text yet.";
  } catch (e) {
    out.textContent = `Profile unavailable: ${e.message}`;
  }
}

// The served model's name (GET /v1/models); while the model loads, say so and retry.
async function loadModel() {
  try {
    const resp = await api("/v1/models");
    if (!resp.ok) throw new Error(await errorMessage(resp));
    const data = await resp.json();
    if (data.data && data.data.length) state.model = data.data[0].id;
    if (!state.busy) setStatus("");
  } catch (e) {
    setStatus(`Not ready yet: ${e.message}`);
    setTimeout(loadModel, 3000);
  }
}

function init() {
  const saved = localStorage.getItem(USER_KEY);
  if (saved) $("#user-id").value = saved;
  $("#user-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const user = userId();
    if (user) localStorage.setItem(USER_KEY, user);
    else localStorage.removeItem(USER_KEY);
    loadProfile();
  });
  $("#user-id").addEventListener("change", () => $("#user-form").requestSubmit());
  $("#ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.busy) return; // keep the text until the current answer is done
    const text = $("#ask").value;
    $("#ask").value = "";
    send(text);
  });
  $("#ask").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("#ask-form").requestSubmit();
    }
  });
  $("#new-chat").addEventListener("click", () => {
    if (state.busy) return;
    state.messages = [];
    $("#log").replaceChildren();
    showError("");
    $("#ask").focus();
  });
  loadModel();
  loadProfile();
}

document.addEventListener("DOMContentLoaded", init);
