// attnlab explorers: every map is drawn in the browser from the widget's own state, so choosing a
// head, a query, a frame or a precomputed setting redraws with no kernel (static HTML included).
// With a kernel, Python answers a "hello" and the explorer also offers a free value to recompute.
// An explorer made with scores= carries only the raw scores: compute.js computes the views here, for any
// temperature (a slider) and with or without the 1/√d_k scaling. attnlab/widgets/_base.py inlines
// compute.js in place of the import below, so that the widget is one module.
import { attentionViews, block } from "./compute.js";

const SVG = "http://www.w3.org/2000/svg";

function make(tag, attrs = {}, parent = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  if (parent) parent.appendChild(node);
  return node;
}

function colour(cmap, value, lo, hi) {
  const t = hi > lo ? (value - lo) / (hi - lo) : 0.5;
  return cmap[Math.max(0, Math.min(cmap.length - 1, Math.round(t * (cmap.length - 1))))];
}

function limits(view, values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return view === "weights" ? [0, Math.max(hi, 1e-9)] : [lo, hi];
}

// One heatmap (rows = queries, columns = keys) as SVG; returns a function that recolours it.
function heatmap(parent, rows, cols, opts) {
  const cell = opts.cell || 22;
  const left = opts.rowLabels ? 8 + 7 * Math.max(...opts.rowLabels.map((s) => s.length), 1) : 4;
  const top = opts.colLabels ? 8 + 6 * Math.max(...opts.colLabels.map((s) => s.length), 1) : 4;
  const svg = make("svg", { width: left + cols * cell + 4, height: top + rows * cell + 4, class: "attnlab-map", role: "img" }, parent, SVG);
  make("title", { text: opts.alt || "attention map" }, svg, SVG);
  const rects = [];
  let shown = [];
  const name = (i, j) => (opts.rowLabels ? opts.rowLabels[i] : i) + " → " + (opts.colLabels ? opts.colLabels[j] : j);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const r = make("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, "data-row": i, "data-col": j }, svg, SVG);
      r.addEventListener("click", () => opts.onRow && opts.onRow(i));
      // The tooltip is written when the pointer arrives, not on every redraw (thousands of cells).
      r.addEventListener("mouseenter", () => {
        const v = shown[i * cols + j];
        const tip = r.firstChild || make("title", {}, r, SVG);
        tip.textContent = `${name(i, j)}: ${Number.isFinite(v) ? v.toFixed(3) : "masked"}`;
      });
      rects.push(r);
    }
  }
  (opts.rowLabels || []).forEach((s, i) => {
    const t = make("text", { x: left - 4, y: top + i * cell + cell * 0.68, "text-anchor": "end", class: "attnlab-label", text: s }, svg, SVG);
    t.addEventListener("click", () => opts.onRow && opts.onRow(i));
  });
  (opts.colLabels || []).forEach((s, j) => {
    const x = left + j * cell + cell * 0.6;
    make("text", { x, y: top - 4, transform: `rotate(-60 ${x} ${top - 4})`, class: "attnlab-label", text: s }, svg, SVG);
  });
  const box = make("rect", { x: 0, y: 0, width: cols * cell - 1, height: cell - 1, class: "attnlab-query", visibility: "hidden", fill: "none", stroke: "#e8590c", "stroke-width": 2.5 }, svg, SVG);
  return (values, view, cmap, query) => {
    const [lo, hi] = limits(view, values);
    shown = values;
    svg.attnlabValues = values; // what is drawn, at full precision, for tests
    rects.forEach((r, idx) => {
      const v = values[idx];
      const fill = Number.isFinite(v) ? colour(cmap, v, lo, hi) : "#bbbbbb";
      if (r.getAttribute("fill") !== fill) r.setAttribute("fill", fill);
    });
    if (query >= 0 && query < rows) {
      box.setAttribute("x", left);
      box.setAttribute("y", top + query * cell);
      box.setAttribute("visibility", "visible");
    } else box.setAttribute("visibility", "hidden");
  };
}

function select(parent, label, options, value, onChange) {
  const wrap = make("label", { class: "attnlab-control" }, parent);
  make("span", { text: label + " " }, wrap);
  const sel = make("select", { "aria-label": label }, wrap);
  options.forEach((o, i) => make("option", { value: i, text: o }, sel));
  sel.value = String(value);
  sel.addEventListener("change", () => onChange(Number(sel.value)));
  return sel;
}

// One map (L × S) to draw: precomputed (data.maps), or computed here from the raw scores (data.scores).
function mapValues(data, s, layer, head) {
  const [, heads, L, S] = data.shape;
  if (data.mode === "scores") {
    const scores = block(data.scores[s.setting], layer * heads + head, L, S);
    const opts = { rows: L, cols: S, dk: data.d_k, scaled: s.scaled, temperature: s.temperature, mask: data.mask };
    return attentionViews(scores, opts)[s.view];
  }
  const flat = data.maps[s.setting][data.views.indexOf(s.view)];
  const start = (layer * heads + head) * L * S;
  return flat.slice(start, start + L * S);
}

// The temperature as a slider on a log scale: TICKS steps per doubling, so 0.25, 0.5, 1, 2, 4 are exact.
const TICKS = 20;
const formatTemperature = (t) => `τ = ${Number(t.toPrecision(3))}`;

function temperatureSlider(parent, range, onChange) {
  const wrap = make("label", { class: "attnlab-control attnlab-temperature" }, parent);
  make("span", { text: "temperature " }, wrap);
  const [lo, hi] = range.map((t) => Math.round(Math.log2(t) * TICKS));
  const input = make("input", { type: "range", min: lo, max: hi, step: 1, "aria-label": "temperature" }, wrap);
  const shown = make("output", {}, wrap);
  input.addEventListener("input", () => onChange(2 ** (Number(input.value) / TICKS)));
  return (t) => {
    const tick = String(Math.max(lo, Math.min(hi, Math.round(Math.log2(t) * TICKS))));
    if (input.value !== tick) input.value = tick;
    input.setAttribute("aria-valuetext", formatTemperature(t));
    shown.textContent = formatTemperature(t);
  };
}

function scalingBox(parent, dk, onChange) {
  const wrap = make("label", { class: "attnlab-control attnlab-scaling" }, parent);
  const box = make("input", { type: "checkbox" }, wrap);
  make("span", { text: ` scale by 1/√d_k (d_k = ${dk})` }, wrap);
  box.addEventListener("change", () => onChange(box.checked));
  return (on) => (box.checked = on);
}

function rowBars(parent) {
  const div = make("div", { class: "attnlab-row" }, parent);
  return (labels, values, query, qlabel) => {
    div.replaceChildren();
    if (query < 0) {
      make("p", { class: "attnlab-hint", text: "Click a row (a query) to read its weights." }, div);
      return;
    }
    make("p", { class: "attnlab-hint", text: `Where “${qlabel}” looks:` }, div);
    const hi = Math.max(...values.filter(Number.isFinite), 1e-9);
    labels.forEach((s, j) => {
      const line = make("div", { class: "attnlab-bar" }, div);
      make("span", { class: "attnlab-bar-label", text: s }, line);
      const v = values[j];
      make("span", { class: "attnlab-bar-fill", style: `width:${Number.isFinite(v) ? Math.max(0, (100 * v) / hi) : 0}px` }, line);
      make("span", { class: "attnlab-bar-value", text: Number.isFinite(v) ? v.toFixed(2) : "–" }, line);
    });
  };
}

function liveInput(model, controls) {
  // Shown only when Python answers: a kernel is there to compute any value.
  const wrap = make("label", { class: "attnlab-control attnlab-live", hidden: "" }, controls);
  const name = make("span", { text: "" }, wrap);
  const input = make("input", { type: "number", step: "any", "aria-label": "any value" }, wrap);
  input.addEventListener("change", () => model.send({ type: "compute", value: Number(input.value) }));
  const note = make("span", { class: "attnlab-error" }, wrap);
  const onMsg = (msg) => {
    if (msg && msg.type === "live") {
      name.textContent = `${msg.label} (any value) `;
      wrap.hidden = false;
    } else if (msg && msg.type === "error") note.textContent = ` ${msg.message}`;
  };
  input.addEventListener("input", () => (note.textContent = ""));
  model.on("msg:custom", onMsg);
  model.send({ type: "hello" });
  return () => model.off("msg:custom", onMsg);
}

function renderHeatmap(model, el, grid) {
  const data = model.get("data");
  const [layers, heads, L, S] = data.shape;
  const controls = make("div", { class: "attnlab-controls" }, el);
  const body = make("div", { class: "attnlab-body" }, el);
  const state = () => ({
    setting: model.get("setting"),
    view: model.get("view"),
    layer: model.get("layer"),
    head: model.get("head"),
    query: model.get("query"),
    temperature: model.get("temperature") ?? 1,
    scaled: model.get("scaled") ?? true,
  });
  const set = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const sels = {};
  sels.setting = data.settings.length > 1 ? select(controls, data.setting_label || "setting", data.settings, model.get("setting"), (v) => set("setting", v)) : null;
  if (data.views.length > 1) sels.view = select(controls, "show", data.views, data.views.indexOf(model.get("view")), (v) => set("view", data.views[v]));
  if (layers > 1) sels.layer = select(controls, "layer", [...Array(layers).keys()].map(String), model.get("layer"), (v) => set("layer", v));
  if (heads > 1) sels.head = select(controls, "head", [...Array(heads).keys()].map(String), model.get("head"), (v) => set("head", v));
  const scores = data.mode === "scores";
  const showTemperature = scores ? temperatureSlider(controls, data.temperature_range, (t) => set("temperature", t)) : null;
  const showScaling = scores ? scalingBox(controls, data.d_k, (on) => set("scaled", on)) : null;
  const offLive = liveInput(model, controls);
  const onRow = (i) => set("query", model.get("query") === i ? -1 : i);
  // A grid shows every head small (click one to choose it); the chosen head is drawn large, labelled.
  const small = grid ? make("div", { class: "attnlab-grid" }, body) : null;
  const panels = grid
    ? [...Array(heads).keys()].map((h) => {
        const box = make("div", { class: "attnlab-panel", "data-head": h }, small);
        make("div", { class: "attnlab-panel-title", text: `head ${h}` }, box);
        box.addEventListener("click", () => set("head", h)); // a click in a cell also picks its query
        const cell = Math.max(5, Math.min(14, Math.floor(140 / Math.max(L, S))));
        return { box, draw: heatmap(box, L, S, { cell, onRow, alt: `${data.alt}, head ${h}` }) };
      })
    : [];
  const detail = make("div", { class: "attnlab-detail" }, body);
  const drawDetail = heatmap(detail, L, S, { rowLabels: data.y_labels, colLabels: data.x_labels, cell: data.cell || 22, onRow, alt: data.alt });
  const bars = rowBars(body);
  const draw = () => {
    try {
      const s = state();
      const cmap = data.cmap;
      panels.forEach(({ box, draw: d }, h) => {
        d(mapValues(data, s, s.layer, h), s.view, cmap, s.query);
        box.classList.toggle("attnlab-chosen", h === s.head);
      });
      const values = mapValues(data, s, s.layer, s.head);
      drawDetail(values, s.view, cmap, s.query);
      bars(data.x_labels, s.query >= 0 ? values.slice(s.query * S, (s.query + 1) * S) : [], s.query, data.y_labels[s.query]);
      for (const key of ["setting", "layer", "head"]) if (sels[key]) sels[key].value = String(s[key]);
      if (sels.view) sels.view.value = String(data.views.indexOf(s.view));
      el.dataset.drawn = `${s.setting}/${s.view}/${s.layer}/${s.head}/${s.query}`;
      if (scores) {
        showTemperature(s.temperature);
        showScaling(s.scaled);
        el.dataset.drawn += `/${s.temperature}/${s.scaled ? "scaled" : "unscaled"}`;
      }
    } catch (err) {
      el.dataset.error = String(err);
      make("pre", { class: "attnlab-error", text: `explorer could not draw: ${err}` }, el);
    }
  };
  return { draw, cleanup: offLive };
}

function paint(canvas, rgb, size) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(size[1], size[0]);
  for (let p = 0; p < size[0] * size[1]; p++) img.data.set([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2], 255], 4 * p);
  ctx.putImageData(img, 0, 0);
}

// Videos: data.shape = [videos, layers, heads, T]; frame_maps[v] holds (layers, heads, T, T) flat and
// patch_maps[source][v] holds (layers, heads, T, P) flat. setting = video, view = patch source.
function renderFrames(model, el) {
  const data = model.get("data");
  const [, layers, heads, T] = data.shape;
  const [gh, gw] = data.grid;
  const P = gh * gw;
  const controls = make("div", { class: "attnlab-controls" }, el);
  const body = make("div", { class: "attnlab-body" }, el);
  const set = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const sels = {};
  if (data.videos.length > 1) sels.setting = select(controls, "video", data.videos, model.get("setting"), (v) => set("setting", v));
  if (layers > 1) sels.layer = select(controls, "layer", [...Array(layers).keys()].map(String), model.get("layer"), (v) => set("layer", v));
  if (heads > 1) sels.head = select(controls, "head", [...Array(heads).keys()].map(String), model.get("head"), (v) => set("head", v));
  if (data.sources.length > 1) {
    const pick = (v) => set("view", data.sources[v]);
    sels.view = select(controls, "patches seen from", data.sources, Math.max(0, data.sources.indexOf(model.get("view"))), pick);
  }
  const offLive = liveInput(model, controls);
  const strip = make("div", { class: "attnlab-frames" }, body);
  const thumbs = [...Array(T).keys()].map((t) => {
    const box = make("div", { class: "attnlab-frame", "data-frame": t }, strip);
    const canvas = make("canvas", { width: data.size[1], height: data.size[0], "aria-label": `frame ${t}`, role: "img" }, box);
    const overlay = make("div", { class: "attnlab-overlay" }, box);
    const cells = [...Array(P).keys()].map(() => make("div", {}, overlay));
    overlay.style.gridTemplateColumns = `repeat(${gw}, 1fr)`;
    make("div", { class: "attnlab-frame-label", text: `t=${t}` }, box);
    box.addEventListener("click", () => set("query", model.get("query") === t ? -1 : t));
    return { box, canvas, cells };
  });
  const mapBox = make("div", { class: "attnlab-panel" }, body);
  make("div", { class: "attnlab-panel-title", text: data.map_title || "frame → frame" }, mapBox);
  const labels = [...Array(T).keys()].map((t) => `t=${t}`);
  const drawMap = heatmap(mapBox, T, T, { rowLabels: labels, colLabels: labels, onRow: (i) => set("query", model.get("query") === i ? -1 : i), alt: data.alt });
  let painted = -1;
  const draw = () => {
    try {
      const [v, l, h, q] = ["setting", "layer", "head", "query"].map((k) => model.get(k));
      const source = Math.max(0, data.sources.indexOf(model.get("view")));
      if (painted !== v) {
        thumbs.forEach(({ canvas }, t) => paint(canvas, data.frames[v][t], data.size));
        painted = v;
      }
      const at = (l * heads + h) * T;
      drawMap(data.frame_maps[v].slice(at * T, (at + T) * T), "weights", data.cmap, q);
      thumbs.forEach(({ box, cells }, t) => {
        box.classList.toggle("attnlab-selected", t === q);
        const show = t === q && data.sources.length > 0;
        const patch = show ? data.patch_maps[source][v].slice((at + t) * P, (at + t + 1) * P) : null;
        const [lo, hi] = patch ? limits("weights", patch) : [0, 1];
        cells.forEach((c, p) => {
          c.style.background = show ? colour(data.cmap, patch[p], lo, hi) : "transparent";
          c.style.opacity = show ? "0.6" : "0";
        });
      });
      for (const key of ["setting", "layer", "head"]) if (sels[key]) sels[key].value = String(model.get(key));
      if (sels.view) sels.view.value = String(source);
      el.dataset.drawn = `${v}/${l}/${h}/${source}/${q}`;
    } catch (err) {
      el.dataset.error = String(err);
      make("pre", { class: "attnlab-error", text: `explorer could not draw: ${err}` }, el);
    }
  };
  return { draw, cleanup: offLive };
}

function render({ model, el }) {
  el.classList.add("attnlab-explorer");
  const names = ["setting", "view", "layer", "head", "query", "temperature", "scaled"];
  let current = null;
  const build = () => {
    if (current) {
      names.forEach((n) => model.off(`change:${n}`, current.draw));
      current.cleanup();
    }
    el.replaceChildren();
    const kind = model.get("kind");
    const data = model.get("data");
    if (data.title) make("div", { class: "attnlab-title", text: data.title }, el);
    current = kind === "frames" ? renderFrames(model, el) : renderHeatmap(model, el, kind === "grid");
    names.forEach((n) => model.on(`change:${n}`, current.draw));
    current.draw();
  };
  build();
  model.on("change:data", build);
  return () => {
    model.off("change:data", build);
    names.forEach((n) => model.off(`change:${n}`, current.draw));
    current.cleanup();
  };
}

export default { render };
