// The globelens page: pick a picture and a model, score phrases or run a task, draw the result.
// Plain DOM and canvas, no dependencies, so it works offline from the server's own assets.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324"];
const TASKS = {
  dual_encoder: [["phrases", "Score phrases"]],
  generator: [
    ["caption", "Caption"],
    ["answer", "Answer a question"],
    ["detect", "Detect objects"],
    ["segment", "Segment objects"],
    ["prompt", "Any prompt"],
  ],
};
const TEXT_LABELS = {
  phrases: ["Phrases, one per line", "Each phrase is scored against the picture."],
  caption: ["Nothing to type", "The caption comes in the language above."],
  answer: ["Question", "Asked in the language above."],
  detect: ["Objects, one per line", "Each is looked for; boxes are drawn on the picture."],
  segment: ["Objects, one per line", "Each is outlined; masks are drawn on the picture."],
  prompt: ["Prompt", "Sent as it is, e.g. 'detect stove ; lamp' or 'caption sw'."],
};

const state = { file: null, image: null, models: [] };

function headers() {
  const key = $("key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function request(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  } catch (e) {
    throw new Error(`The server cannot be reached (${e.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    const hint = response.status === 401 ? " Enter the API key under 'API key'." : "";
    throw new Error(`${message}${hint}`);
  }
  return body;
}

// -- models and tasks -------------------------------------------------------------------------

async function loadModels() {
  try {
    const body = await request("/v1/models");
    state.models = body.data;
    const select = $("model");
    select.replaceChildren();
    for (const m of state.models) {
      const option = new Option(`${m.id} (${m.kind === "generator" ? "generator" : "phrases"})`, m.id);
      select.add(option);
    }
    if (!state.models.length) showError("The server has no models loaded yet; reload in a moment.");
    else clearError();
    updateTasks();
  } catch (e) {
    showError(`Cannot list the models: ${e.message}`);
  }
}

function currentModel() {
  return state.models.find((m) => m.id === $("model").value);
}

function updateTasks() {
  const model = currentModel();
  const select = $("task");
  const previous = select.value;
  select.replaceChildren();
  for (const [value, text] of TASKS[model ? model.kind : "dual_encoder"] || []) {
    select.add(new Option(text, value, false, value === previous));
  }
  updateTextField();
}

function updateTextField() {
  const task = $("task").value || "phrases";
  const [label, help] = TEXT_LABELS[task];
  $("text-label").textContent = label;
  $("text-help").textContent = help;
  $("text-field").hidden = task === "caption";
  $("lang-field").hidden = !(task === "caption" || task === "answer");
}

// -- the picture ------------------------------------------------------------------------------

function setFile(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showError(`${file.name} is not an image.`);
    return;
  }
  clearError();
  state.file = file;
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    state.image = img;
    $("drop-label").textContent = `${file.name} (${img.naturalWidth}×${img.naturalHeight}); press to change`;
    draw([]);
  };
  img.onerror = () => {
    state.image = null;
    showError(`${file.name} cannot be shown by this browser; the server may still read it.`);
  };
  img.src = url;
}

function draw(objects) {
  const canvas = $("canvas");
  const img = state.image;
  if (!img) return;
  // small pictures are drawn larger so boxes and labels stay readable
  const scale = Math.min(4, 720 / Math.max(img.naturalWidth, img.naturalHeight));
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  objects.forEach((obj, i) => {
    const color = COLORS[i % COLORS.length];
    if (obj.mask) drawMask(ctx, obj.mask, color, canvas.width, canvas.height);
    const [x0, y0, x1, y1] = obj.box.map((v) => v * scale);
    ctx.lineWidth = Math.max(2, canvas.width / 240);
    ctx.strokeStyle = color;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.font = "600 14px system-ui, sans-serif";
    const text = obj.label;
    const w = ctx.measureText(text).width + 8;
    const ty = y0 > 18 ? y0 - 18 : y0;
    ctx.fillStyle = color;
    ctx.fillRect(x0, ty, w, 18);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x0 + 4, ty + 14);
  });
  canvas.dataset.objects = String(objects.length);
  $("figure").hidden = false;
}

// COCO compressed RLE ("counts" string, column-major runs) -> Uint8Array of 0/1, as
// pycocotools' rleFrString + rleDecode do.
function decodeRle(rle) {
  const [h, w] = rle.size;
  const s = rle.counts;
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p += 1;
      k += 1;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  const mask = new Uint8Array(h * w);
  let pos = 0;
  let value = 0;
  for (const n of counts) {
    if (value) mask.fill(1, pos, pos + n);
    pos += n;
    value = 1 - value;
  }
  return { mask, h, w };
}

function drawMask(ctx, rle, color, width, height) {
  const { mask, h, w } = decodeRle(rle);
  const off = document.createElement("canvas");
  off.width = w;
  off.height = h;
  const octx = off.getContext("2d");
  const data = octx.createImageData(w, h);
  const r = parseInt(color.slice(1, 3), 16);
  const g = parseInt(color.slice(3, 5), 16);
  const b = parseInt(color.slice(5, 7), 16);
  for (let i = 0; i < mask.length; i += 1) {
    if (!mask[i]) continue;
    const row = i % h; // column-major
    const col = (i - row) / h;
    const o = (row * w + col) * 4;
    data.data[o] = r;
    data.data[o + 1] = g;
    data.data[o + 2] = b;
    data.data[o + 3] = 110;
  }
  octx.putImageData(data, 0, 0);
  ctx.drawImage(off, 0, 0, width, height);
}

// -- running ----------------------------------------------------------------------------------

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

function prompt(task, text, lang) {
  switch (task) {
    case "caption":
      return `caption ${lang}`;
    case "answer":
      return `answer ${lang} ${text.trim()}`;
    case "detect":
    case "segment":
      return `${task} ${lines(text).join(" ; ")}`;
    default:
      return text.trim();
  }
}

function showScores(scores) {
  const list = $("scores");
  list.replaceChildren();
  for (const { label, score } of scores) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "1");
    track.setAttribute("aria-valuenow", score.toFixed(4));
    track.setAttribute("aria-label", label);
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${(score * 100).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = score < 0.001 ? score.toExponential(1) : score.toFixed(3);
    li.append(name, track, value);
    list.append(li);
  }
}

function showGeneration(body) {
  const result = body.result;
  const objects = result.objects || [];
  draw(objects);
  const answer = result.answer !== null && result.answer !== undefined ? result.answer : "";
  $("answer").textContent = answer || (objects.length ? "" : `Raw output: ${body.text || "(empty)"}`);
  const list = $("objects");
  list.replaceChildren();
  objects.forEach((obj, i) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[i % COLORS.length];
    const box = obj.box.map((v) => Math.round(v)).join(", ");
    li.append(swatch, `${obj.label}: [${box}]${obj.mask ? " with mask" : ""}`);
    list.append(li);
  });
  const invalid = result.invalid || [];
  if (invalid.length) {
    const li = document.createElement("li");
    li.textContent = `${invalid.length} part(s) of the output did not parse (${invalid.map((x) => x.reason).join(", ")}).`;
    list.append(li);
  }
}

async function run(event) {
  event.preventDefault();
  clearError();
  const model = currentModel();
  if (!state.file) return showError("Choose or drop an image first.");
  if (!model) return showError("No model is selected.");
  const task = $("task").value;
  const text = $("text").value;
  const form = new FormData();
  form.append("model", model.id);
  form.append("image", state.file);
  let url;
  if (task === "phrases") {
    const labels = lines(text);
    if (!labels.length) return showError("Type at least one phrase.");
    labels.forEach((label) => form.append("labels", label));
    url = "/v1/classify";
  } else {
    const p = prompt(task, text, $("lang").value.trim() || "en");
    if (task !== "caption" && !lines(text).length) return showError("Type what to ask or look for.");
    form.append("prompt", p);
    url = "/v1/generate";
  }
  $("run").disabled = true;
  $("busy").textContent = "Working…";
  $("scores").replaceChildren();
  $("objects").replaceChildren();
  $("answer").textContent = "";
  try {
    const body = await request(url, { method: "POST", body: form });
    if (task === "phrases") {
      draw([]);
      showScores(body.scores);
    } else {
      showGeneration(body);
    }
    $("busy").textContent = "Done.";
    $("result").scrollIntoView({ block: "nearest" });
  } catch (e) {
    $("busy").textContent = "";
    showError(e.message);
  } finally {
    $("run").disabled = false;
  }
}

// -- wiring -----------------------------------------------------------------------------------

function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => setFile(e.target.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    setFile(e.dataTransfer.files[0]);
  });
  $("model").addEventListener("change", updateTasks);
  $("task").addEventListener("change", updateTextField);
  $("key").addEventListener("change", loadModels);
  $("form").addEventListener("submit", run);
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
