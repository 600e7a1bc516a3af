// Apprentice's page: tasks, examples, training and apply, a thin shell over the local JSON API.
// No libraries and no network beyond this computer: everything here talks to 127.0.0.1.

const LAYERED = /\.(psd|kra|ora)$/i;
const PICTURE = /\.(png|jpe?g|webp|gif|bmp|tiff?|psd|kra|ora|mp4|m4v|mov|mkv|webm|avi)$/i; // videos: in-between tasks
const NAMED_PART = /^(.+)\.(before|after)\.[^.]+$/i;
const AUGMENT_HELP = {
  none: "Examples are used only as drawn: for steps that depend on direction, like light from the left.",
  mirror: "Examples are also used mirrored left to right: suits most steps.",
  "mirror+rotate": "Examples are also mirrored and turned: for steps that don’t care about direction, like cleanup or flats.",
};

const $ = (selector, root = document) => root.querySelector(selector);
const page = {
  tasks: [],
  task: null,
  detail: null,
  stream: null,
  poll: null,
  previewKey: null,
  running: false,
  stopAsked: false,
  lastState: null,
  guilds: [],
  guild: null,
};

// ---- talking to the workshop ----

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Accept: "application/json", ...options.headers } });
  const text = await response.text();
  let body = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  if (!response.ok) throw new Error(messageOf(body, response));
  return body;
}

function messageOf(body, response) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) return detail.map((d) => d.msg || String(d)).join("; ");
  if (typeof body === "string" && body.trim() && body.length < 300) return body.trim();
  return `The workshop answered ${response.status} ${response.statusText}; try again.`;
}

function postJSON(path, data) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

const taskPath = (suffix = "") => `/api/tasks/${encodeURIComponent(page.task)}${suffix}`;

function workImage(part, size = 256) {
  const query = new URLSearchParams({ size: String(size) });
  if (part.layer) query.set("layer", part.layer);
  return `/api/works/${encodeURIComponent(part.work)}/image?${query}`;
}

// ---- small view helpers ----

function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

function say(element, message) {
  element.textContent = message || "";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function first(...values) {
  return values.find((value) => value !== undefined && value !== null);
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function decibels(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(1)} dB` : "—";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = seconds / 60;
  return minutes < 10 ? `${minutes.toFixed(1)} min` : `${Math.round(minutes)} min`;
}

function dateText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso || "");
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function basename(path) {
  return String(path || "").split(/[\\/]/).pop();
}

function stemOf(name) {
  const base = basename(name);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}

function extensionOf(name) {
  const base = basename(name);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot) : ".png";
}

function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { numeric: true });
}

// ---- tasks ----

function tasksOf(data) {
  return Array.isArray(data) ? data : data?.tasks || [];
}

function exampleCount(task) {
  const value = first(task.examples, task.example_count, task.example_list);
  return Array.isArray(value) ? value.length : Number(value || 0);
}

function newestScore(task) {
  const newest = first(task.newest, task.apprentice, task.latest, Array.isArray(task.apprentices) ? task.apprentices[0] : null);
  return first(task.val_psnr, task.newest_psnr, task.score, newest?.val_psnr, task.best_psnr);
}

async function loadTasks() {
  try {
    page.tasks = tasksOf(await api("/api/tasks"));
    renderTaskList();
  } catch (error) {
    showError($("#new-task-error"), error.message);
  }
}

function renderTaskList() {
  const list = $("#task-list");
  list.replaceChildren(...page.tasks.map(taskItem));
  $("#task-list-empty").hidden = page.tasks.length > 0;
}

function taskItem(task) {
  const item = element("li");
  const link = element("a", "task-item");
  link.href = `#/task/${encodeURIComponent(task.name)}`;
  link.dataset.testid = "task-item";
  link.dataset.name = task.name;
  if (task.name === page.task) link.setAttribute("aria-current", "page");
  link.append(element("span", "task-name", task.name));
  const score = newestScore(task);
  const facts = `${plural(exampleCount(task), "example")}${typeof score === "number" ? ` · ${decibels(score)}` : ""}`;
  link.append(element("span", "task-facts", facts));
  item.append(link);
  return item;
}

async function createTask(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("#new-task-error");
  showError(error, "");
  const name = form.name.value.trim();
  const button = $("#new-task-submit");
  button.disabled = true;
  try {
    await postJSON("/api/tasks", { name, kind: form.kind.value, augment: form.augment.value });
    form.name.value = "";
    await loadTasks();
    location.hash = `#/task/${encodeURIComponent(name)}`;
  } catch (failure) {
    showError(error, failure.message);
  } finally {
    button.disabled = false;
  }
}

function showAugmentHelp() {
  say($("#new-task-augment-help"), AUGMENT_HELP[$("#new-task-augment").value] || "");
}

// ---- one task ----

async function route() {
  const match = location.hash.match(/^#\/task\/(.+)$/);
  const name = match ? decodeURIComponent(match[1]) : null;
  const guild = location.hash.match(/^#\/guild\/([0-9a-f]+)$/);
  page.guild = guild ? guild[1] : null;
  renderGuildList();
  $("#guild-view").hidden = !page.guild;
  if (page.guild) {
    disconnectTraining();
    page.task = null;
    renderTaskList();
    $("#welcome").hidden = true;
    $("#task-view").hidden = true;
    await loadGuild();
    return;
  }
  $("#welcome").hidden = Boolean(name);
  $("#task-view").hidden = !name;
  if (name === page.task) return;
  disconnectTraining();
  page.task = name;
  page.previewKey = null;
  renderTaskList();
  $("#welcome").hidden = Boolean(name);
  $("#task-view").hidden = !name;
  if (!name) return;
  resetTaskView();
  await Promise.all([loadTask(), loadApprentices(), loadTraining()]);
}

function resetTaskView() {
  for (const id of ["#task-error", "#pairs-error", "#by-hand-error", "#train-error", "#apply-error"]) showError($(id), "");
  for (const id of ["#upload-status", "#apply-status"]) say($(id), "");
  $("#layered-list").replaceChildren();
  $("#apply-results").replaceChildren();
  $("#apply-zip").hidden = true;
  $("#apply-layer-row").hidden = true;
  $("#apply-animation").hidden = true;
  $("#train-live").hidden = true;
  $("#train-preview").hidden = true;
  $("#train-preview-wait").hidden = false;
  setRunning(false);
}

async function loadTask() {
  const name = page.task;
  try {
    const detail = await api(taskPath());
    if (name !== page.task) return;
    page.detail = detail;
    renderTask(detail);
  } catch (error) {
    showError($("#task-error"), error.message);
  }
}

function renderTask(detail) {
  $("#task-title").textContent = detail.name;
  const augment = first(detail.augment, detail.config?.augment, detail.config?.train?.augment);
  const facts = [`kind: ${detail.kind}`];
  if (augment) facts.push(`turns examples: ${augment}`);
  say($("#task-meta"), facts.join(" · "));
  for (const select of document.querySelectorAll("#task-finish select")) {
    select.value = detail.config?.finish?.[select.dataset.finish] || "auto";
  }
  const help = $("#pairs-drop .drop-help");
  help.dataset.paired ??= help.innerHTML;
  const inbetween = detail.kind === "inbetween";
  $("#pairs-drop .drop-title").textContent = $("#pairs-drop .drop-title").dataset[inbetween ? "inbetween" : "paired"];
  if (inbetween) help.textContent = help.dataset.inbetween;
  else help.innerHTML = help.dataset.paired;
  $(".by-hand").hidden = $("#by-hand-hint").hidden = inbetween; // pairing by hand is for before/after
  $("#apply-shot").hidden = !inbetween; // how many in-betweens, and where: before the keys are dropped
  renderPairs(detail.example_list || []);
}

async function setFinish(aspect, value) {
  try {
    const body = JSON.stringify({ [aspect]: value });
    await api(taskPath("/finish"), { method: "PUT", headers: { "Content-Type": "application/json" }, body });
  } catch (error) {
    showError($("#task-error"), error.message);
  }
}

function renderPairs(examples) {
  const template = $("#pair-template");
  const items = examples.map((example) => pairItem(template, example));
  $("#pairs").replaceChildren(...items);
  $("#pairs-empty").hidden = examples.length > 0;
  say($("#examples-count"), examples.length ? plural(examples.length, "pair") : "");
}

function pairItem(template, example) {
  const item = template.content.firstElementChild.cloneNode(true);
  item.dataset.id = example.id;
  const parts = example.parts || {};
  const roles = parts.inbetween ? ["key1", "inbetween"] : ["before", "after"]; // an in-between: a key and the frame learned
  ["before", "after"].forEach((slot, index) => {
    const image = $(`.pair-${slot}`, item);
    crispWhenSmall(image);
    if (parts[roles[index]]) image.src = workImage(parts[roles[index]]);
    image.alt = `${example.name}, ${roles[index]}`;
    $("figcaption", image.parentElement).textContent = { key1: "key", inbetween: "in-between" }[roles[index]] || slot;
  });
  $(".pair-name", item).textContent = example.name;
  $(".pair-name", item).title = example.width ? `${example.name} — ${example.width} × ${example.height} px` : example.name;
  $(".remove", item).addEventListener("click", () => removePair(item, example));
  return item;
}

async function removePair(item, example) {
  const error = $(".error", item);
  showError(error, "");
  try {
    await api(taskPath(`/examples/${encodeURIComponent(example.id)}`), { method: "DELETE" });
    item.remove();
    await Promise.all([loadTask(), loadTasks()]);
  } catch (failure) {
    showError(error, failure.message);
  }
}

// ---- adding examples ----

function sortDropped(files) {
  const named = new Map();
  const layered = [];
  const loose = [];
  for (const file of files) {
    const match = file.name.match(NAMED_PART);
    if (LAYERED.test(file.name)) layered.push(file);
    else if (match) {
      const pair = named.get(match[1]) || {};
      pair[match[2].toLowerCase()] = file;
      named.set(match[1], pair);
    } else loose.push(file);
  }
  return { named, layered, loose };
}

async function addDropped(files) {
  showError($("#pairs-error"), "");
  if (page.detail?.kind === "inbetween") {
    // Animation: the dropped frames (in name order), GIFs, APNGs and layered files go up as they are.
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    await uploadExamples(form, files.length, $("#pairs-error"));
    return;
  }
  const { named, layered, loose } = sortDropped(files);
  const complete = [...named.values()].filter((pair) => pair.before && pair.after);
  const problems = [];
  for (const [stem, pair] of named) {
    if (pair.before && pair.after) continue;
    const missing = pair.before ? "after" : "before";
    problems.push(`${(pair.before || pair.after).name} has no ${missing} partner named ${stem}.${missing}.png`);
  }
  if (loose.length) {
    const names = loose.map((file) => file.name).join(", ");
    problems.push(`${names}: name files X.before.png and X.after.png, or use the Before and After pickers below`);
  }
  if (problems.length) showError($("#pairs-error"), `${problems.join("; ")}.`);
  for (const file of layered) offerLayers(file);
  if (complete.length) {
    const form = new FormData();
    for (const pair of complete) {
      form.append("files", pair.before, pair.before.name);
      form.append("files", pair.after, pair.after.name);
    }
    await uploadExamples(form, complete.length, $("#pairs-error"));
  }
}

async function uploadExamples(form, count, errorElement) {
  if ($("#pairs-mine").checked) form.append("mine", "true");
  const status = $("#upload-status");
  say(status, `Adding ${plural(count, "pair")}…`);
  try {
    const report = await api(taskPath("/examples"), { method: "POST", body: form });
    say(status, importSummary(report, count));
    await Promise.all([loadTask(), loadTasks()]);
    return true;
  } catch (error) {
    say(status, "");
    showError(errorElement, error.message);
    return false;
  }
}

function importSummary(report, count) {
  const added = first(report?.added, report?.examples_added);
  const present = first(report?.already_present, report?.present);
  const addedCount = Array.isArray(added) ? added.length : added;
  const presentCount = Array.isArray(present) ? present.length : present;
  if (typeof addedCount !== "number") return `Added ${plural(count, "pair")}.`;
  const extra = presentCount ? ` (${presentCount} already there)` : "";
  return `Added ${plural(addedCount, "pair")}${extra}.`;
}

// Layered files: ask the workshop for their layers, then let the artist pick which is before and which is after.
async function offerLayers(file) {
  const card = element("div", "layered");
  card.dataset.testid = "layered-file";
  const title = element("p", "layered-title", file.name);
  const error = element("p", "error small");
  error.setAttribute("role", "alert");
  error.hidden = true;
  card.append(title, error);
  $("#layered-list").append(card);
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    const layers = layerNames(await api("/api/layers", { method: "POST", body: form }));
    card.append(layerPicker(file, layers, card, error));
  } catch (failure) {
    showError(error, failure.message);
    card.append(dismissButton(card));
  }
}

function layerNames(data) {
  const layers = Array.isArray(data) ? data : data?.layers || [];
  return layers.map((layer) => (typeof layer === "string" ? layer : layer.name || layer.path || String(layer)));
}

function guessLayer(layers, pattern, fallback) {
  return layers.find((name) => pattern.test(name)) || layers[fallback] || layers[0] || "";
}

function layerSelect(label, layers, chosen, testid) {
  const wrap = element("label", "layer-choice");
  wrap.append(element("span", "", label));
  const select = element("select");
  select.dataset.testid = testid;
  for (const name of layers) select.append(new Option(name, name, false, name === chosen));
  wrap.append(select);
  return [wrap, select];
}

function layerPicker(file, layers, card, error) {
  const row = element("div", "layer-pick");
  const beforeGuess = guessLayer(layers, /before|sketch|rough|pencil/i, 0);
  const afterGuess = guessLayer(layers, /after|ink|clean|final|flat|colou?r/i, layers.length - 1);
  const [beforeWrap, before] = layerSelect("Before layer", layers, beforeGuess, "before-layer");
  const [afterWrap, after] = layerSelect("After layer", layers, afterGuess, "after-layer");
  const add = element("button", "button primary", "Add pair");
  add.type = "button";
  add.dataset.testid = "add-layered";
  add.addEventListener("click", async () => {
    showError(error, "");
    if (before.value === after.value) return showError(error, "Pick two different layers: one before, one after.");
    const form = new FormData();
    form.append("files", file, file.name);
    form.append("before_layer", before.value);
    form.append("after_layer", after.value);
    add.disabled = true;
    if (await uploadExamples(form, 1, error)) card.remove();
    add.disabled = false;
  });
  row.append(beforeWrap, afterWrap, add, dismissButton(card));
  return row;
}

function dismissButton(card) {
  const button = element("button", "button quiet", "Cancel");
  button.type = "button";
  button.addEventListener("click", () => card.remove());
  return button;
}

function pairedByHand() {
  const before = [...$("#before-input").files].sort(byName);
  const after = [...$("#after-input").files].sort(byName);
  return { before, after };
}

function chosenText(files) {
  if (!files.length) return "none chosen";
  return files.length === 1 ? files[0].name : `${files.length} files`;
}

function updateByHand() {
  const { before, after } = pairedByHand();
  say($("#before-chosen"), chosenText(before));
  say($("#after-chosen"), chosenText(after));
  const button = $("#add-pairs");
  button.disabled = !before.length || before.length !== after.length;
  button.textContent = before.length && before.length === after.length ? `Add ${plural(before.length, "pair")}` : "Add pairs";
  const mismatch = before.length && after.length && before.length !== after.length;
  const chosen = `You chose ${plural(before.length, "before file")} and ${plural(after.length, "after file")}`;
  showError($("#by-hand-error"), mismatch ? `${chosen}; choose as many of each.` : "");
}

async function addByHand() {
  const { before, after } = pairedByHand();
  const form = new FormData();
  const used = new Set();
  before.forEach((file, index) => {
    let stem = stemOf(file.name).replace(/\.before$/i, "");
    for (let n = 2; used.has(stem); n += 1) stem = `${stemOf(file.name)}-${n}`;
    used.add(stem);
    form.append("files", file, `${stem}.before${extensionOf(file.name)}`);
    form.append("files", after[index], `${stem}.after${extensionOf(after[index].name)}`);
  });
  $("#add-pairs").disabled = true;
  showError($("#by-hand-error"), "");
  if (await uploadExamples(form, before.length, $("#by-hand-error"))) {
    $("#before-input").value = "";
    $("#after-input").value = "";
  }
  updateByHand();
}

// ---- training ----

async function loadTraining() {
  const name = page.task;
  try {
    const state = await api(taskPath("/train"));
    if (name !== page.task || !state) return;
    const seen = Number(state.step || 0) > 0 || (state.history || []).length > 0 || state.error;
    if (seen) showTraining(state);
    if (isRunning(state)) connectTraining();
  } catch {
    // no run yet for this task: nothing to show
  }
}

async function startTraining() {
  showError($("#train-error"), "");
  const steps = parseInt($("#train-steps").value, 10);
  const minutes = parseFloat($("#train-minutes").value);
  const seed = parseInt($("#train-seed").value, 10);
  const request = { fresh: $("#train-fresh").checked };
  if (Number.isFinite(steps) && steps > 0) request.steps = steps;
  else request.minutes = Number.isFinite(minutes) && minutes > 0 ? minutes : 5;
  if (Number.isFinite(seed)) request.seed = seed;
  $("#train-start").disabled = true;
  try {
    const state = await postJSON(taskPath("/train"), request);
    page.previewKey = null;
    page.stopAsked = false;
    showTraining({ ...state, running: first(state?.running, true) });
    connectTraining();
  } catch (error) {
    showError($("#train-error"), error.message);
    $("#train-start").disabled = false;
  }
}

async function stopTraining() {
  $("#train-stop").disabled = true;
  page.stopAsked = true;
  try {
    const state = await api(taskPath("/train/stop"), { method: "POST" });
    if (state && typeof state === "object" && "step" in state) showTraining(state);
  } catch (error) {
    showError($("#train-error"), error.message);
    $("#train-stop").disabled = false;
  }
}

function isRunning(state) {
  return Boolean(first(state?.running, state?.status === "running", false));
}

function connectTraining() {
  disconnectTraining();
  const name = page.task;
  if (!window.EventSource) return pollTraining(name);
  const stream = new EventSource(taskPath("/train/events"));
  page.stream = stream;
  stream.onmessage = (message) => {
    if (name !== page.task) return;
    let state;
    try {
      state = JSON.parse(message.data);
    } catch {
      return;
    }
    showTraining(state);
    if (!isRunning(state)) disconnectTraining();
  };
  stream.onerror = () => {
    // the stream ended or cannot be opened: carry on by asking every second
    disconnectTraining();
    if (name === page.task) pollTraining(name);
  };
}

function pollTraining(name) {
  clearTimeout(page.poll);
  page.poll = setTimeout(async () => {
    if (name !== page.task) return;
    try {
      const state = await api(taskPath("/train"));
      showTraining(state);
      if (isRunning(state)) pollTraining(name);
    } catch (error) {
      showError($("#train-error"), error.message);
    }
  }, 1000);
}

function disconnectTraining() {
  if (page.stream) page.stream.close();
  page.stream = null;
  clearTimeout(page.poll);
  page.poll = null;
}

function setRunning(running) {
  page.running = running;
  $("#train-start").disabled = running;
  $("#train-stop").disabled = !running;
  $("#train-panel").classList.toggle("is-running", running);
}

function showTraining(state) {
  if (!state || typeof state !== "object") return;
  const running = isRunning(state);
  const finished = page.running && !running;
  page.lastState = state;
  $("#train-live").hidden = false;
  setRunning(running);
  showProgress(state, running);
  showStats(state);
  drawCurve($("#train-curve"), state);
  showPreview(state);
  if (state.error) showError($("#train-error"), state.error);
  if (finished) trainingFinished(state);
}

function showProgress(state, running) {
  const step = Number(state.step || 0);
  const target = first(state.target_steps, state.steps_target, state.total_steps);
  const elapsed = first(state.elapsed, state.seconds);
  const remaining = state.remaining;
  let fraction = null;
  if (target) fraction = step / target;
  else if (typeof elapsed === "number" && typeof remaining === "number") fraction = elapsed / Math.max(elapsed + remaining, 1e-9);
  if (!running && !state.error && step > 0) fraction = 1;
  const percent = Math.round(Math.min(1, Math.max(0, fraction ?? 0)) * 100);
  $("#train-progress-fill").style.width = `${percent}%`;
  $("#train-progress").setAttribute("aria-valuenow", String(percent));
  $("#train-progress").classList.toggle("indeterminate", running && fraction === null);
  say($("#train-progress-text"), progressText(state, running, step, remaining));
}

function progressText(state, running, step, remaining) {
  if (running && state.stopping) return "Stopping after this step…";
  if (running) {
    const left = typeof remaining === "number" ? `about ${duration(remaining)} left` : "working out the time left…";
    return step ? `${left}` : "Starting…";
  }
  if (state.error) return "Stopped.";
  const seconds = first(state.elapsed, state.seconds);
  const took = seconds ? ` after ${duration(seconds)}` : "";
  if (page.stopAsked) return step ? `Stopped at step ${step}${took}; the best version so far is kept.` : "Stopped.";
  return step ? `Finished: ${plural(step, "step")}${seconds ? ` in ${duration(seconds)}` : ""}.` : "";
}

function showStats(state) {
  say($("#stat-step"), state.target_steps ? `${state.step} / ${state.target_steps}` : String(state.step ?? "—"));
  say($("#stat-loss"), typeof state.loss === "number" ? state.loss.toPrecision(3) : "—");
  say($("#stat-psnr"), decibels(state.val_psnr));
  say($("#stat-best"), decibels(state.best_psnr));
  say($("#stat-identity"), decibels(state.identity_psnr));
}

function previewUrlOf(state) {
  if (typeof state.preview_url === "string" && state.preview_url) return state.preview_url;
  const checked = (state.history || []).filter((point) => typeof point.val_psnr === "number");
  const lastCheck = checked.length ? checked[checked.length - 1].step : null;
  return lastCheck === null ? null : taskPath(`/train/preview.png?t=${lastCheck}`);
}

// The held-out comparison is fetched again only when a new check made a new one.
function showPreview(state) {
  const url = previewUrlOf(state);
  $(".preview-figure").hidden = !url && !isRunning(state);
  if (!url || url === page.previewKey) return;
  page.previewKey = url;
  const next = new Image();
  next.onload = () => {
    const image = $("#train-preview");
    fitPicture(image, next.naturalWidth, next.naturalHeight, 340);
    image.src = next.src;
    image.dataset.key = url;
    image.hidden = false;
    $("#train-preview-wait").hidden = true;
  };
  next.src = url;
}

// Small pictures are shown larger with crisp pixels, as an artist zooms in; large ones fit the space.
function fitPicture(image, width, height, maxHeight) {
  const room = image.parentElement.parentElement.clientWidth || 480;
  const scale = Math.min(room / width, maxHeight / height, 8);
  image.style.width = `${Math.round(width * scale)}px`;
  image.classList.toggle("crisp", scale >= 2);
}

function crispWhenSmall(image) {
  image.addEventListener("load", () => image.classList.toggle("crisp", image.naturalWidth * 2 <= image.clientWidth));
}

async function trainingFinished(state) {
  if (state.apprentice && !state.error) say($("#train-summary"), state.note || "Training finished: the new apprentice is ready.");
  await Promise.all([loadApprentices(), loadTasks()]);
}

// The curve: loss (log scale, left) and held-out score (dB, right), with copying-the-before as a dashed line.
const COLOURS = { loss: "#b8a48a", psnr: "#2f6f73", identity: "#9aa0a6", grid: "#ebe8e1", text: "#6b6f76" };

function drawCurve(canvas, state) {
  const history = state.history || [];
  const identity = state.identity_psnr;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const box = { left: 48, right: width - 48, top: 14, bottom: height - 28 };
  context.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
  drawGrid(context, box);
  if (!history.length) {
    context.fillStyle = COLOURS.text;
    context.fillText("The curve appears after the first steps.", box.left + 8, (box.top + box.bottom) / 2);
    return;
  }
  const steps = history.map((point) => point.step);
  const last = Math.max(...steps, state.target_steps || 0, 1);
  const x = scale(0, last, box.left, box.right);
  drawLoss(context, box, history, x);
  drawScores(context, box, history, x, identity);
  context.fillStyle = COLOURS.text;
  context.textAlign = "left";
  context.fillText("step 0", box.left, box.bottom + 18);
  context.textAlign = "right";
  context.fillText(`step ${last}`, box.right, box.bottom + 18);
}

function scale(low, high, from, to) {
  const span = high - low || 1;
  return (value) => from + ((value - low) / span) * (to - from);
}

function drawGrid(context, box) {
  context.strokeStyle = COLOURS.grid;
  context.lineWidth = 1;
  for (let i = 0; i <= 4; i += 1) {
    const y = Math.round(box.top + ((box.bottom - box.top) * i) / 4) + 0.5;
    context.beginPath();
    context.moveTo(box.left, y);
    context.lineTo(box.right, y);
    context.stroke();
  }
}

function drawLoss(context, box, history, x) {
  const points = history.filter((point) => typeof point.loss === "number" && point.loss > 0);
  if (!points.length) return;
  const logs = points.map((point) => Math.log10(point.loss));
  const low = Math.min(...logs);
  const high = Math.max(...logs);
  const y = scale(low, high === low ? low + 1 : high, box.bottom, box.top);
  line(context, points.map((point, i) => [x(point.step), y(logs[i])]), COLOURS.loss, 1.5);
  context.fillStyle = COLOURS.loss;
  context.textAlign = "right";
  context.fillText(formatLoss(10 ** high), box.left - 6, box.top + 4);
  context.fillText(formatLoss(10 ** low), box.left - 6, box.bottom);
}

function formatLoss(value) {
  return value >= 0.01 ? value.toFixed(3) : value.toExponential(1);
}

function drawScores(context, box, history, x, identity) {
  const points = history.filter((point) => typeof point.val_psnr === "number");
  const values = points.map((point) => point.val_psnr);
  if (typeof identity === "number") values.push(identity);
  if (!values.length) return;
  const low = Math.floor(Math.min(...values) - 0.5);
  const high = Math.ceil(Math.max(...values) + 0.5);
  const y = scale(low, high, box.bottom, box.top);
  if (typeof identity === "number") {
    context.setLineDash([5, 4]);
    line(context, [[box.left, y(identity)], [box.right, y(identity)]], COLOURS.identity, 1.25);
    context.setLineDash([]);
  }
  const path = points.map((point) => [x(point.step), y(point.val_psnr)]);
  line(context, path, COLOURS.psnr, 2.25);
  context.fillStyle = COLOURS.psnr;
  for (const [px, py] of path) {
    context.beginPath();
    context.arc(px, py, 2.5, 0, Math.PI * 2);
    context.fill();
  }
  context.textAlign = "left";
  context.fillText(`${high} dB`, box.right + 6, box.top + 4);
  context.fillText(`${low} dB`, box.right + 6, box.bottom);
}

function line(context, points, colour, width) {
  if (!points.length) return;
  context.strokeStyle = colour;
  context.lineWidth = width;
  context.lineJoin = "round";
  context.beginPath();
  points.forEach(([px, py], i) => (i ? context.lineTo(px, py) : context.moveTo(px, py)));
  context.stroke();
}

// ---- apprentices ----

async function loadApprentices() {
  const name = page.task;
  try {
    const data = await api(taskPath("/apprentices"));
    if (name !== page.task) return;
    const rows = Array.isArray(data) ? data : data?.apprentices || [];
    $("#apprentices").replaceChildren(...rows.map((row, i) => apprenticeCard(row, i === 0)));
    $("#apprentices-empty").hidden = rows.length > 0;
    say($("#apply-summary"), rows.length ? `Uses apprentice v${rows[0].version}.` : "Train an apprentice first.");
  } catch (error) {
    showError($("#train-error"), error.message);
  }
}

function apprenticeCard(row, newest) {
  const manifest = row.manifest || {};
  const card = element("article", `apprentice-card${newest ? " newest" : ""}`);
  card.dataset.testid = "apprentice-card";
  card.dataset.id = row.id;
  const head = element("header", "card-head");
  head.append(element("h4", "", `Apprentice v${first(row.version, manifest.version, "?")}`));
  if (newest) head.append(element("span", "badge", "in use"));
  head.append(element("code", "card-id", row.id || manifest.id || ""));
  card.append(head);
  const tainted = row.tainted_by || [];
  if (tainted.length) card.append(taintWarning(tainted));
  card.append(scoreBlock(row, manifest), trainingFacts(row, manifest), ownerList(manifest.owners));
  if (row.successor_of) {
    const because = row.because ? `: ${row.because}` : "";
    card.append(element("p", "muted small", `Replaces ${row.successor_of}${because}.`));
  }
  return card;
}

function taintWarning(tainted) {
  const one = tainted.length === 1;
  const learned = `Learned from ${plural(tainted.length, "work")} that ${one ? "its owner has" : "their owners have"} since withdrawn.`;
  const warning = element("p", "warning", learned);
  if (page.detail?.config?.guild) {
    warning.append(document.createTextNode(" The guild has a proposal to retrain it without them: vote on its page."));
  } else {
    warning.append(document.createTextNode(` Train a replacement without ${one ? "it" : "them"}: `));
    warning.append(element("code", "", `apprentice retrain ${page.task}`));
  }
  warning.dataset.testid = "tainted-warning";
  warning.setAttribute("role", "status");
  return warning;
}

function scoreBlock(row, manifest) {
  const metrics = manifest.metrics || {};
  const psnr = first(row.val_psnr, metrics.best?.psnr);
  const ssim = first(row.val_ssim, metrics.best?.ssim);
  const copyPsnr = first(row.identity_psnr, metrics.identity?.psnr);
  const copySsim = metrics.identity?.ssim;
  const block = element("div", "scores");
  block.append(scoreCell("Held-out score", decibels(psnr), ssimText(ssim)));
  block.append(scoreCell("Copying the before", decibels(copyPsnr), ssimText(copySsim)));
  block.append(verdict(psnr, copyPsnr));
  return block;
}

function ssimText(value) {
  return typeof value === "number" ? `SSIM ${value.toFixed(3)}` : "";
}

function scoreCell(label, value, extra) {
  const cell = element("div", "score");
  cell.append(element("span", "score-label", label), element("span", "score-value", value));
  if (extra) cell.append(element("span", "score-extra", extra));
  return cell;
}

function verdict(psnr, copyPsnr) {
  if (typeof psnr !== "number" || typeof copyPsnr !== "number") return element("p", "verdict");
  const gain = psnr - copyPsnr;
  if (gain > 0.05) return element("p", "verdict good", `${gain.toFixed(1)} dB closer to your after than the untouched before.`);
  return element("p", "verdict weak", "Not yet better than leaving the drawing untouched: train longer or add examples.");
}

function trainingFacts(row, manifest) {
  const seconds = first(row.seconds, manifest.training?.seconds);
  const steps = first(row.steps, manifest.training?.steps);
  const created = first(row.created_at, manifest.created_at);
  const facts = element("p", "facts muted small");
  const parts = [];
  if (steps !== undefined) parts.push(`${Number(steps).toLocaleString()} steps`);
  if (typeof seconds === "number") parts.push(`${duration(seconds)} of training`);
  if (created) parts.push(`made ${dateText(created)}`);
  if (row.finish) parts.push(`finishes with ${row.finish}`);
  if (row.precision) parts.push(row.precision);
  if (row.distilled) parts.push(row.distilled);
  facts.textContent = parts.join(" · ");
  return facts;
}

function ownerList(owners) {
  const wrap = element("div", "owners");
  const entries = Object.values(owners || {});
  wrap.append(element("p", "owners-title", "Learned from"));
  if (!entries.length) {
    wrap.append(element("p", "muted small", "No owner list in this apprentice’s manifest."));
    return wrap;
  }
  const list = element("ul", "owner-list");
  for (const owner of entries) {
    const item = element("li");
    item.append(element("span", "owner-name", owner.name || "someone"));
    item.append(element("span", "muted", ` — ${plural(owner.examples ?? 0, "example")}, ${pixels(owner.pixels)} trained on`));
    list.append(item);
  }
  wrap.append(list);
  return wrap;
}

function pixels(count) {
  const value = Number(count || 0);
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)} million pixels`;
  return `${value.toLocaleString()} pixels`;
}

// ---- apply ----

async function applyDropped(files) {
  const pictures = files.filter((file) => PICTURE.test(file.name));
  showError($("#apply-error"), "");
  if (!pictures.length) {
    const readable = "PNG, JPEG, WebP, TIFF, PSD, Krita, OpenRaster";
    return showError($("#apply-error"), `None of these files is a picture Apprentice can read (${readable}).`);
  }
  const layered = pictures.filter((file) => LAYERED.test(file.name));
  if (layered.length && !(await chooseApplyLayer(layered[0], pictures))) return;
  if (!layered.length) $("#apply-layer-row").hidden = true;
  await runApply(pictures);
}

async function chooseApplyLayer(file, pictures) {
  const row = $("#apply-layer-row");
  const select = $("#apply-layer");
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    const layers = layerNames(await api("/api/layers", { method: "POST", body: form }));
    select.replaceChildren(new Option("the whole picture", ""), ...layers.map((name) => new Option(name, name)));
    select.value = guessLayer(layers, /before|sketch|rough|pencil/i, 0);
    row.hidden = false;
    let button = $("#apply-layer-go");
    if (!button) {
      button = element("button", "button primary", "Apply");
      button.id = "apply-layer-go";
      button.type = "button";
      row.append(button);
    }
    button.onclick = () => runApply(pictures);
    say($("#apply-status"), `Pick the layer to work on, then press Apply.`);
    return false;
  } catch (error) {
    showError($("#apply-error"), error.message);
    return false;
  }
}

function uploadName(file, used) {
  let name = file.name;
  const path = file.webkitRelativePath || "";
  if (used.has(name) && path) name = path.replace(/[\\/]/g, "_");
  for (let n = 2; used.has(name); n += 1) name = `${stemOf(file.name)}-${n}${extensionOf(file.name)}`;
  used.add(name);
  return name;
}

async function runApply(pictures) {
  const form = new FormData();
  const used = new Set();
  const inputs = new Map();
  for (const file of pictures) {
    const name = uploadName(file, used);
    inputs.set(name, file);
    form.append("files", file, name);
  }
  const layer = $("#apply-layer-row").hidden ? "" : $("#apply-layer").value;
  if (layer) form.append("layer", layer);
  if (page.detail?.kind === "inbetween") {
    const chart = $("#apply-timing").value.trim();
    form.append(chart ? "timing" : "between", chart || $("#apply-between").value);
  }
  say($("#apply-status"), `Working on ${plural(pictures.length, "drawing")}…`);
  $("#apply-panel").classList.add("is-busy");
  try {
    const job = await api(taskPath("/apply"), { method: "POST", body: form });
    showResults(job, inputs);
    const frames = (job.results || []).filter((result) => SHOT_FRAME.test(result.output)).length;
    const shot = page.detail?.kind === "inbetween";
    say($("#apply-status"), `Done: ${shot ? plural(frames, "in-between") : plural((job.results || []).length, "drawing")}.`);
    if (job.error) showError($("#apply-error"), job.error); // some drawings could not be read: the rest are above
  } catch (error) {
    say($("#apply-status"), "");
    showError($("#apply-error"), error.message);
  } finally {
    $("#apply-panel").classList.remove("is-busy");
  }
}

const SHOT_FRAME = /-\d{4,}\.png$/; // a shot's numbered frame; the shot's GIF and APNG are named without a number

function showResults(job, inputs) {
  const template = $("#result-template");
  const shot = page.detail?.kind === "inbetween";
  const animations = shot ? (job.results || []).filter((result) => !SHOT_FRAME.test(result.output)) : [];
  const frames = (job.results || []).filter((result) => !animations.includes(result));
  showAnimation(animations);
  const items = frames.map((result, index) => resultItem(template, result, inputs, index));
  if (shot) items.forEach((item, index) => inBetweenLabels(item, frames[index]));
  $("#apply-results").replaceChildren(...items);
  const zip = $("#apply-zip");
  zip.href = `/api/jobs/${encodeURIComponent(job.job)}/zip`;
  zip.setAttribute("download", `${page.task}-${job.job}.zip`);
  zip.hidden = !items.length;
}

function showAnimation(animations) {
  const apng = animations.find((result) => /\.png$/i.test(result.output));
  const gif = animations.find((result) => /\.gif$/i.test(result.output));
  $("#apply-animation").hidden = !apng && !gif;
  for (const [link, result] of [[$("#apply-apng"), apng], [$("#apply-gif"), gif]]) {
    link.hidden = !result;
    if (!result) continue;
    link.href = result.url;
    link.setAttribute("download", basename(result.output));
  }
  if (apng || gif) $("#apply-animation-image").src = (apng || gif).url;
}

function inBetweenLabels(item, result) {
  // an in-between is shown beside the key before it, and named after its own frame
  $("figcaption", item).textContent = "the key before";
  item.querySelectorAll("figcaption")[1].textContent = "in-between";
  $(".result-name", item).textContent = basename(result.output);
}

function resultItem(template, result, inputs, index) {
  const item = template.content.firstElementChild.cloneNode(true);
  const inputName = basename(result.input);
  // the workshop may have made an unusual file name safe; results come back in the order the files went
  const file = inputs.get(inputName) || [...inputs.values()][index];
  $(".result-input", item).append(inputPreview(file, inputName));
  const output = $(".result-output", item);
  crispWhenSmall(output);
  output.src = result.url;
  output.alt = `${inputName}, done by the apprentice`;
  $(".result-name", item).textContent = inputName;
  const link = $(".download", item);
  link.href = result.url;
  link.setAttribute("download", basename(result.output) || inputName);
  return item;
}

function inputPreview(file, name) {
  const tile = element("div", "file-tile", name);
  if (!file || LAYERED.test(file.name) || /\.tiff?$/i.test(file.name)) return tile;
  const image = element("img");
  image.alt = name;
  image.src = URL.createObjectURL(file);
  image.onload = () => {
    URL.revokeObjectURL(image.src);
    image.classList.toggle("crisp", image.naturalWidth * 2 <= image.clientWidth);
  };
  image.onerror = () => image.replaceWith(tile);
  return image;
}

// ---- drag and drop ----

function makeDropZone(zone, onFiles) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    onFiles(await droppedFiles(event.dataTransfer));
  });
}

async function droppedFiles(transfer) {
  const entries = [...(transfer.items || [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((entry) => entry.isDirectory)) return [...transfer.files];
  const files = [];
  for (const entry of entries) files.push(...(await entryFiles(entry)));
  return files;
}

async function entryFiles(entry) {
  if (entry.isFile) return [await new Promise((resolve, reject) => entry.file(resolve, reject))];
  const reader = entry.createReader();
  const files = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return files;
    for (const child of batch) files.push(...(await entryFiles(child)));
  }
}

// ---- guilds ----

async function loadGuilds() {
  try {
    page.guilds = await api("/api/guilds");
    renderGuildList();
  } catch (error) {
    showError($("#new-task-error"), error.message);
  }
}

function renderGuildList() {
  const guilds = page.guilds || [];
  $("#guilds-section").hidden = guilds.length === 0;
  $("#guild-list").replaceChildren(
    ...guilds.map((guild) => {
      const link = element("a", "task-item");
      link.href = `#/guild/${guild.id}`;
      link.dataset.testid = "guild-item";
      if (guild.id === page.guild) link.setAttribute("aria-current", "page");
      link.append(element("span", "task-name", guild.name));
      const open = guild.open ? ` · ${guild.open} to decide` : "";
      link.append(element("span", "task-facts", `${plural(guild.members, "member")}${open}`));
      const item = element("li");
      item.append(link);
      return item;
    }),
  );
}

async function loadGuild() {
  const id = page.guild;
  showError($("#guild-error"), "");
  try {
    const view = await api(`/api/guilds/${id}`);
    if (id === page.guild) renderGuild(view);
  } catch (error) {
    showError($("#guild-error"), error.message);
  }
}

function renderGuild(view) {
  $("#guild-title").textContent = view.name;
  const charter = view.charter || {};
  const joining = charter.join === "vote" ? "newcomers are admitted by vote" : "a member’s invite admits newcomers";
  const rule = `a proposal passes when at least ${percent(charter.quorum)} of the members vote and more than ${percent(charter.threshold)} of the votes are yes`;
  say($("#guild-meta"), `Guild ${view.id.slice(0, 12)}: ${joining}; ${rule}.`);
  say($("#members-count"), plural(view.members.length, "member"));
  $("#guild-members").replaceChildren(...view.members.map((member) => memberItem(member, view.me)), ...view.waiting.map(waitingItem));
  $("#guild-proposals").replaceChildren(...view.proposals.map(proposalCard));
  $("#proposals-empty").hidden = view.proposals.length > 0;
  $("#guild-releases").replaceChildren(...view.releases.map(releaseCard));
  $("#releases-empty").hidden = view.releases.length > 0;
}

function percent(share) {
  return `${Math.round(Number(share ?? 0.5) * 100)} %`;
}

function memberItem(member, me) {
  const item = element("li", "member");
  item.dataset.testid = "guild-member";
  item.append(element("span", "owner-name", member.name + (member.id === me ? " (you)" : "")));
  item.append(element("code", "card-id", member.key.slice(0, 12)));
  if (member.forked) {
    const warning = element("span", "badge danger", "signed two histories");
    warning.title = "This key signed two different versions of its history: a second computer or a restored backup.";
    item.append(warning);
  }
  return item;
}

function waitingItem(waiting) {
  const item = element("li", "member muted");
  item.append(element("span", "", `${waiting.name}: waiting for the members’ vote`));
  return item;
}

const OUTCOME = { open: "open", passed: "passed", rejected: "rejected" };

function proposalCard(proposal) {
  const card = element("article", `apprentice-card proposal ${proposal.outcome}`);
  card.dataset.testid = "proposal";
  card.dataset.id = proposal.id;
  const head = element("header", "card-head");
  const title = proposal.kind === "train" ? `Train “${proposal.task}”` : "Admit a newcomer";
  head.append(element("h4", "", title), element("span", `badge outcome-${proposal.outcome}`, OUTCOME[proposal.outcome] || proposal.outcome));
  head.append(element("code", "card-id", proposal.id.slice(0, 12)));
  card.append(head);
  if (proposal.kind === "train") {
    const compute = proposal.compute || {};
    if (proposal.training === "federated") {
      card.append(element("p", "small", `Federated: each of ${proposal.contributors.join(", ")} trains on their own computer, ${proposal.rounds} rounds in ${compute.minutes} min, combined on ${compute.member}’s computer. Only weight updates travel.`));
      for (const line of roundLines(proposal.progress || [])) {
        const item = element("p", "muted small", line);
        item.dataset.testid = "round";
        card.append(item);
      }
    } else {
      card.append(element("p", "small", `From the offered examples of ${proposal.contributors.join(", ")}; trained on ${compute.member}’s computer for ${compute.minutes} min.`));
    }
    if (proposal.because) card.append(element("p", "warning small", `Retrain: ${proposal.because}.`));
  }
  const votes = Object.entries(proposal.votes);
  const tally = votes.length ? votes.map(([name, vote]) => `${name}: ${vote}`).join(", ") : "no votes yet";
  card.append(element("p", "muted small", `Proposed by ${proposal.by}. ${votes.length} of ${proposal.electorate} voted (${tally}).`));
  if (proposal.may_vote && proposal.outcome === "open") card.append(voteButtons(proposal));
  else if (proposal.my_vote) card.append(element("p", "small", `You voted ${proposal.my_vote}.`));
  return card;
}

function roundLines(events) {
  return events.map((event) => {
    if (event.held_out) return `Round ${event.round}: held-out PSNR ${event.held_out.psnr.toFixed(2)} dB (copying the before: ${event.held_out.identity_psnr.toFixed(2)})`;
    if (event.left) return `Round ${event.round}: sat out, nothing may train it any more`;
    const loss = event.loss == null ? "" : `, loss ${event.loss.toFixed(4)}`;
    const who = event.members != null ? plural(event.members, "member") : plural(event.examples || 0, "example");
    return `Round ${event.round}: ${who} trained${loss}`;
  });
}

function voteButtons(proposal) {
  const row = element("div", "vote-row");
  const error = element("p", "error small");
  error.hidden = true;
  for (const choice of ["yes", "no"]) {
    const button = element("button", `button ${choice === "yes" ? "primary" : "secondary"}`, `Vote ${choice}`);
    button.type = "button";
    button.dataset.testid = `vote-${choice}`;
    button.addEventListener("click", async () => {
      for (const other of row.querySelectorAll("button")) other.disabled = true;
      try {
        renderGuild(await postJSON(`/api/guilds/${page.guild}/votes`, { proposal: proposal.id, vote: choice }));
        loadGuilds();
      } catch (failure) {
        showError(error, failure.message);
        for (const other of row.querySelectorAll("button")) other.disabled = false;
      }
    });
    row.append(button);
  }
  row.append(error);
  return row;
}

function releaseCard(release) {
  const card = element("article", "apprentice-card");
  card.dataset.testid = "release";
  const head = element("header", "card-head");
  head.append(element("h4", "", `“${release.task}”, trained by ${release.trained_by}`));
  head.append(element("code", "card-id", release.apprentice));
  card.append(head);
  if (release.training === "federated") {
    const rounds = Object.entries(release.took_part).map(([name, taken]) => `${name} rounds ${taken.join(", ")}`).join("; ");
    const kept = release.kept_round < release.rounds ? ` (round ${release.kept_round}’s combination scored best on the members’ held-out works, so it is the one released)` : "";
    card.append(element("p", "small", `Federated, ${release.rounds} rounds combined on ${release.host}’s computer${kept}: ${rounds}.`));
    if (release.refused.length) card.append(element("p", "warning small", `Turned away: ${release.refused.join(", ")}.`));
  }
  if (release.tainted_by.length) {
    const warning = element("p", "warning", `Learned from ${plural(release.tainted_by.length, "work")} since withdrawn by ${release.tainted_by.length === 1 ? "its owner" : "their owners"}; a retrain proposal was opened.`);
    warning.dataset.testid = "release-tainted";
    card.append(warning);
  }
  const owners = element("div", "owners");
  owners.append(element("p", "owners-title", "Learned from"));
  const list = element("ul", "owner-list");
  for (const contributor of release.contributors) {
    const item = element("li");
    item.dataset.testid = "contributor";
    item.append(element("span", "owner-name", contributor.name));
    item.append(document.createTextNode(`: ${plural(contributor.examples, "example")}, ${Math.round(contributor.share * 100)} % of what it trained on`));
    list.append(item);
  }
  owners.append(list);
  card.append(owners);
  card.append(element("p", "muted small", release.fetched ? "On this computer: use it like your own apprentices." : "Not fetched yet: the next sync brings it."));
  return card;
}

// ---- wiring ----

function wire() {
  $("#new-task-form").addEventListener("submit", createTask);
  $("#new-task-augment").addEventListener("change", showAugmentHelp);
  for (const select of document.querySelectorAll("#task-finish select")) {
    select.addEventListener("change", () => setFinish(select.dataset.finish, select.value));
  }
  $("#pairs-input").addEventListener("change", (event) => {
    addDropped([...event.target.files]);
    event.target.value = "";
  });
  $("#before-input").addEventListener("change", updateByHand);
  $("#after-input").addEventListener("change", updateByHand);
  $("#add-pairs").addEventListener("click", addByHand);
  $("#train-start").addEventListener("click", startTraining);
  $("#train-stop").addEventListener("click", stopTraining);
  for (const id of ["#apply-input", "#apply-folder"]) {
    $(id).addEventListener("change", (event) => {
      applyDropped([...event.target.files]);
      event.target.value = "";
    });
  }
  makeDropZone($("#pairs-drop"), addDropped);
  makeDropZone($("#apply-drop"), applyDropped);
  for (const link of document.querySelectorAll("[data-jump]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      document.querySelector(link.getAttribute("href")).scrollIntoView({ behavior: "smooth", block: "start" });
    });
  }
  // a file dropped outside a drop zone must not make the browser leave the page
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => page.lastState && drawCurve($("#train-curve"), page.lastState));
}

wire();
showAugmentHelp();
await Promise.all([loadTasks(), loadGuilds()]);
await route();
