// annfast playground page: settings go to the server, snapshots come back over
// Server-Sent Events and are drawn here (canvas heat maps, SVG weights).
"use strict";

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const DATASET_TITLES = {
  "circle": "Circle", "xor": "XOR", "gaussian": "Gaussian", "spiral": "Spiral",
  "reg-plane": "Plane (regr.)", "reg-gaussian": "Gaussians (regr.)",
};
const NODE = 36;      // px, a neuron's heat map
const ROW = 46;       // px between neurons of a column
const ORANGE = [245, 147, 34], WHITE = [232, 234, 235], BLUE = [8, 119, 189];

const $ = (id) => document.getElementById(id);
const state = {
  options: null, session: null, config: null, snapshot: null, data: null,
  dataVersion: -1, structure: "", drawTimes: [], frames: 0, links: [], nodes: [],
};

// -- colour ----------------------------------------------------------------------

// Byte b encodes a display value d = b / 127.5 - 1 in [-1, 1]: orange, white, blue.
// The boundary is paler (strength 0.6) so that the points stand out on it.
function palette(strength) {
  const p = new Uint8ClampedArray(256 * 3);
  for (let b = 0; b < 256; b++) {
    const d = b / 127.5 - 1, t = Math.abs(d) * strength, to = d < 0 ? ORANGE : BLUE;
    for (let c = 0; c < 3; c++) p[3 * b + c] = WHITE[c] + (to[c] - WHITE[c]) * t;
  }
  return p;
}
const PALETTE = palette(1), PALE = palette(0.6);

function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function paint(canvas, b64, n, colours = PALETTE) {
  if (canvas.width !== n) { canvas.width = n; canvas.height = n; }
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), bytes = decode(b64);
  for (let i = 0; i < bytes.length; i++) {
    const p = 3 * bytes[i];
    img.data[4 * i] = colours[p]; img.data[4 * i + 1] = colours[p + 1];
    img.data[4 * i + 2] = colours[p + 2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// -- server ----------------------------------------------------------------------

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: body === null ? "" : JSON.stringify(body),
  };
  const res = await fetch(path, init);
  const reply = await res.json();
  if (!res.ok) throw new Error(reply.error || res.statusText);
  return reply;
}

function action(name, body) {
  return api(`/api/sessions/${state.session}/${name}`, body === undefined ? null : body)
    .catch(showError);
}

function showError(err) {
  const el = $("error");
  el.textContent = String(err.message || err);
  el.hidden = false;
}

async function configure(changes) {
  $("preset").value = "";  // the settings no longer are the preset's
  const reply = await action("configure", changes);
  if (reply) setControls(reply.config);
}

// -- controls --------------------------------------------------------------------

function fillSelect(select, values, label) {
  select.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = label ? label(v) : String(v);
    select.appendChild(o);
  }
}

function buildControls(opts) {
  fillSelect($("learning_rate"), LEARNING_RATES);
  fillSelect($("reg_rate"), REG_RATES);
  fillSelect($("activation"), opts.activations, (a) => a === "identity" ? "linear" : a);
  fillSelect($("regularization"), opts.regularizations);
  fillSelect($("points"), opts.points);
  for (const [key, p] of Object.entries(opts.presets)) {
    const o = document.createElement("option");
    o.value = key; o.textContent = p.title;
    $("preset").appendChild(o);
  }
  $("batch_size").max = Math.min(opts.max_batch, 30);
  const box = $("datasets");
  for (const name of opts.datasets) {
    const b = document.createElement("button");
    b.id = `dataset-${name}`; b.dataset.dataset = name;
    b.textContent = DATASET_TITLES[name] || name;
    b.addEventListener("click", () => configure({dataset: name}));
    box.appendChild(b);
  }
  for (const id of ["learning_rate", "reg_rate"]) {
    $(id).addEventListener("change", () => configure({[id]: Number($(id).value)}));
  }
  for (const id of ["activation", "regularization"]) {
    $(id).addEventListener("change", () => configure({[id]: $(id).value}));
  }
  for (const id of ["train_percent", "noise", "batch_size"]) {
    $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; });
    $(id).addEventListener("change", () => configure({[id]: Number($(id).value)}));
  }
  for (const id of ["points", "seed", "stop_at"]) {
    $(id).addEventListener("change", () => {
      const v = Number($(id).value);
      if (Number.isInteger(v) && v >= 0) configure({[id]: v});
    });
  }
  $("new-seed").addEventListener("click",
    () => configure({seed: Math.floor(Math.random() * 1e6)}));
  $("preset").addEventListener("change", async () => {
    const p = state.options.presets[$("preset").value];
    if (!p) return;
    const reply = await action("reset", Object.assign({}, p.config,
      {stop_at: Number($("stop_at").value) || 0}));
    if (reply) setControls(reply.config);
  });
  $("play-pause").addEventListener("click", () => {
    const playing = $("play-pause").dataset.state === "playing";
    setPlaying(!playing);
    action(playing ? "pause" : "play");
  });
  $("step").addEventListener("click", () => action("step"));
  $("reset").addEventListener("click", () => action("reset"));
  $("add-layer").addEventListener("click", () => {
    const h = state.config.hidden;
    if (h.length < opts.max_hidden_layers) configure({hidden: h.concat([h.length ? h[h.length - 1] : 2])});
  });
  $("remove-layer").addEventListener("click", () => {
    const h = state.config.hidden;
    if (h.length) configure({hidden: h.slice(0, -1)});
  });
  $("show-test").addEventListener("change", () => draw());
  $("links").addEventListener("mouseover", showWeight);
  window.addEventListener("resize", () => { state.structure = ""; draw(); });
}

function setSelect(select, value) {
  let best = null;
  for (const o of select.options) {
    if (best === null || Math.abs(Number(o.value) - value) < Math.abs(Number(best.value) - value)) best = o;
    if (o.value === String(value)) { best = o; break; }
  }
  if (best) select.value = best.value;
}

function setControls(cfg) {
  state.config = cfg;
  setSelect($("learning_rate"), cfg.learning_rate);
  setSelect($("reg_rate"), cfg.reg_rate);
  $("activation").value = cfg.activation;
  $("regularization").value = cfg.regularization;
  $("points").value = String(cfg.points);
  for (const id of ["train_percent", "noise", "batch_size"]) {
    $(id).value = cfg[id]; $(`${id}-value`).textContent = cfg[id];
  }
  $("seed").value = cfg.seed;
  $("stop_at").value = cfg.stop_at;
  for (const b of $("datasets").children) {
    b.classList.toggle("selected", b.dataset.dataset === cfg.dataset);
  }
  $("layer-count").textContent = cfg.hidden.length;
}

function setPlaying(playing) {
  const b = $("play-pause");
  b.dataset.state = playing ? "playing" : "paused";
  b.innerHTML = playing ? "&#10074;&#10074; Pause" : "&#9654; Play";
}

// -- the network diagram ---------------------------------------------------------

function buildNetwork(cfg) {
  const net = $("network"), svg = $("links");
  for (const el of Array.from(net.querySelectorAll(".node, .layer-head"))) el.remove();
  svg.innerHTML = "";
  const features = state.options.features;
  const columns = [features.length].concat(cfg.hidden, [1]);
  const width = Math.max(net.clientWidth, 480);
  const x0 = 90, step = (width - x0 - NODE - 10) / (columns.length - 1);
  const height = Math.max(...columns) * ROW + 40;
  net.style.height = `${height}px`;
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  const pos = [];   // pos[col][i] = {x, y} of the node's top-left corner
  state.nodes = [];
  columns.forEach((count, c) => {
    const x = x0 + c * step;
    pos.push([]);
    state.nodes.push([]);
    if (c > 0 && c < columns.length - 1) {
      const head = document.createElement("div");
      head.className = "layer-head";
      head.style.left = `${x + NODE / 2 - 40}px`; head.style.top = "0px";
      head.innerHTML = `<button class="small" data-layer="${c - 1}" data-delta="1">+</button> ` +
        `<button class="small" data-layer="${c - 1}" data-delta="-1">&minus;</button><br>${count} neurons`;
      head.addEventListener("click", (e) => {
        const b = e.target.closest("button");
        if (!b) return;
        const h = cfg.hidden.slice(), l = Number(b.dataset.layer);
        h[l] = Math.max(1, Math.min(state.options.max_units, h[l] + Number(b.dataset.delta)));
        if (h[l] !== cfg.hidden[l]) configure({hidden: h});
      });
      net.appendChild(head);
    }
    for (let i = 0; i < count; i++) {
      const y = 40 + i * ROW;
      pos[c].push({x, y});
      const node = document.createElement("div");
      node.className = "node";
      node.style.left = `${x}px`; node.style.top = `${y}px`;
      const canvas = document.createElement("canvas");
      node.appendChild(canvas);
      if (c === 0) {
        const name = features[i];
        node.classList.add("feature");
        node.id = `feature-${name}`;
        node.classList.toggle("off", !cfg.features.includes(name));
        const label = document.createElement("span");
        label.className = "name"; label.textContent = name;
        node.appendChild(label);
        node.addEventListener("click", () => {
          const on = cfg.features.includes(name);
          const next = on ? cfg.features.filter((f) => f !== name) : cfg.features.concat([name]);
          if (next.length) configure({features: next});
        });
      }
      net.appendChild(node);
      state.nodes[c].push(canvas);
    }
  });
  // One path per weight, from the active inputs only.
  const active = features.map((f, i) => cfg.features.includes(f) ? i : -1).filter((i) => i >= 0);
  state.links = [];
  for (let c = 0; c + 1 < columns.length; c++) {
    const inputs = c === 0 ? active : [...Array(columns[c]).keys()];
    const layer = [];
    for (let j = 0; j < columns[c + 1]; j++) {
      const row = [];
      inputs.forEach((i) => {
        const a = pos[c][i], b = pos[c + 1][j];
        const x1 = a.x + NODE, y1 = a.y + NODE / 2, x2 = b.x, y2 = b.y + NODE / 2, mx = (x1 + x2) / 2;
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        path.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
        path.setAttribute("fill", "none");
        path.setAttribute("stroke-opacity", "0.8");
        svg.appendChild(path);
        row.push(path);
      });
      layer.push(row);
    }
    state.links.push(layer);
  }
  // The input nodes map to the active features (the server sends those only).
  state.inputCanvases = active.map((i) => state.nodes[0][i]);
}

function drawWeights(weights) {
  // Only touch the paths whose look changed: weights move slowly, and every
  // attribute set costs the page a style pass.
  weights.forEach((W, l) => W.forEach((row, j) => row.forEach((w, i) => {
    const path = state.links[l] && state.links[l][j] && state.links[l][j][i];
    if (!path) return;
    const width = Math.min(8, 0.4 + 2 * Math.abs(w)).toFixed(1), positive = w >= 0;
    path.weight = w;
    if (path.shownWidth === width && path.shownSign === positive) return;
    path.shownWidth = width; path.shownSign = positive;
    path.setAttribute("stroke", positive ? "rgb(8,119,189)" : "rgb(245,147,34)");
    path.setAttribute("stroke-width", width);
  })));
}

// A weight's value as the tooltip of its line, made when the pointer gets there.
function showWeight(event) {
  const path = event.target;
  if (path.tagName !== "path" || path.weight === undefined) return;
  const title = path.firstChild || path.appendChild(
    document.createElementNS("http://www.w3.org/2000/svg", "title"));
  title.textContent = `weight ${path.weight.toFixed(3)}`;
}

// -- output views ----------------------------------------------------------------

function drawBoundary(snap) {
  const canvas = $("boundary"), ctx = canvas.getContext("2d");
  const off = state.offscreen || (state.offscreen = document.createElement("canvas"));
  paint(off, snap.boundary, snap.grid, PALE);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  if (!state.data) return;
  const scale = canvas.width / 12;
  const dot = (p, test) => {
    const v = state.data.regression ? p[2] : 2 * p[2] - 1;
    const c = v < 0 ? ORANGE : BLUE, t = Math.min(1, Math.abs(v));
    ctx.fillStyle = `rgb(${c.map((x, k) => Math.round(WHITE[k] + (x - WHITE[k]) * t)).join(",")})`;
    ctx.strokeStyle = test ? "#000" : "#fff";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.arc((p[0] + 6) * scale, (6 - p[1]) * scale, 3, 0, 2 * Math.PI);
    ctx.fill(); ctx.stroke();
  };
  for (const p of state.data.train) dot(p, false);
  if ($("show-test").checked) for (const p of state.data.test) dot(p, true);
}

function drawLosses(history) {
  const canvas = $("loss-chart"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  let top = 0;
  for (const h of history) top = Math.max(top, h[1] || 0, h[2] || 0);
  top = 1.1 * top || 1;  // headroom: a flat curve stays visible
  const last = history[history.length - 1][0] || 1;
  const line = (k, colour) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    history.forEach((h, i) => {
      const x = h[0] / last * (canvas.width - 2) + 1;
      const y = canvas.height - 2 - (h[k] === null ? top : h[k]) / top * (canvas.height - 4);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  };
  line(1, "#999");   // training
  line(2, "#000");   // test
}

function fmt(x) { return x === null ? "diverged" : x.toFixed(3); }

function draw() {
  const snap = state.snapshot;
  if (!snap) return;
  const cfg = snap.config;
  const structure = JSON.stringify([cfg.features, cfg.hidden]);
  if (structure !== state.structure) {
    state.structure = structure;
    setControls(cfg);
    buildNetwork(cfg);
  }
  $("epoch").textContent = snap.epoch.toLocaleString("en-US").padStart(7, "0");
  $("test-loss").textContent = fmt(snap.test_loss);
  $("train-loss").textContent = fmt(snap.train_loss);
  $("epochs-per-second").textContent = Math.round(snap.epochs_per_second);
  setPlaying(snap.playing);
  const err = $("error");
  if (snap.error) { err.textContent = snap.error; err.hidden = false; } else if (!err.dataset.keep) err.hidden = true;
  drawBoundary(snap);
  drawLosses(snap.history);
  snap.nodes[0].forEach((b64, i) => state.inputCanvases[i] && paint(state.inputCanvases[i], b64, snap.neuron_grid));
  for (let c = 1; c < snap.nodes.length; c++) {
    snap.nodes[c].forEach((b64, i) => state.nodes[c] && state.nodes[c][i] && paint(state.nodes[c][i], b64, snap.neuron_grid));
  }
  drawWeights(snap.weights);
  // Render rate over the last second, in the page and in the DOM for tests.
  const now = performance.now();
  state.drawTimes.push(now);
  while (state.drawTimes[0] < now - 1000) state.drawTimes.shift();
  state.frames += 1;
  $("render-rate").textContent = state.drawTimes.length;
  document.body.dataset.renderRate = state.drawTimes.length;
  document.body.dataset.frames = state.frames;
  document.body.dataset.epoch = snap.epoch;
  document.body.dataset.playing = snap.playing;
  document.body.dataset.testLoss = snap.test_loss;
  document.body.dataset.activation = cfg.activation;
  document.body.dataset.dataset = cfg.dataset;
  document.body.dataset.stopAt = cfg.stop_at;
}

async function onSnapshot(event) {
  const snap = JSON.parse(event.data);
  if (snap.data_version !== state.dataVersion) {
    state.dataVersion = snap.data_version;
    const data = await api(`/api/sessions/${state.session}/data`);
    if (data.data_version === state.dataVersion) state.data = data;
  }
  state.snapshot = snap;
  draw();
}

async function start() {
  state.options = await api("/api/options");
  buildControls(state.options);
  const created = await api("/api/sessions", state.options.defaults);
  state.session = created.session;
  setControls(created.config);
  $("export-script").href = `/api/sessions/${state.session}/export.py`;
  $("export-model").href = `/api/sessions/${state.session}/export.model`;
  const events = new EventSource(`/api/sessions/${state.session}/events`);
  events.onmessage = (e) => { onSnapshot(e).catch(showError); };
  // The browser reconnects by itself; stop once the session is gone for good.
  events.onerror = () => {
    api(`/api/sessions/${state.session}/config`).catch(() => {
      events.close();
      showError("This page's session has ended (the server stopped, or the page was " +
                "idle too long): reload the page.");
    });
  };
  window.addEventListener("pagehide", () => {
    events.close();
    navigator.sendBeacon(`/api/sessions/${state.session}/close`);
  });
  document.body.dataset.session = state.session;
}

start().catch(showError);
