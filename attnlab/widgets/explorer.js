// attnlab explorers: every map is drawn in the browser from the widget's own state, so choosing a
// head, a query, a frame or a precomputed setting redraws with no kernel (static HTML included).
// With a kernel, Python answers a "hello" and the explorer also offers a free value to recompute.
// An explorer made with scores= carries only the raw scores: compute.js computes the views here, for any
// temperature (a slider) and with or without the 1/√d_k scaling. The mask editor (kind "mask") lets the
// reader mask pairs and recomputes the weights the same way. The sentence explorer (kind "sentence") runs a
// small model's head on a sentence the reader types (compute.js's sentenceMap). attnlab/widgets/_base.py inlines
// compute.js in place of the import below, so that the widget is one module.
import { attentionViews, block, boolToAdditive, editorMask, emptyRows, perKeyHfMask, sentenceMap, toMhaMask } from "./compute.js";

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
  // From the keyboard: Tab to the map, the up and down arrows (Home, End) choose the query, Escape clears it.
  let current = -1;
  if (opts.onRow) {
    svg.setAttribute("tabindex", "0");
    make("desc", { text: "Press the up and down arrows to choose a query row, Escape to clear it." }, svg, SVG);
    svg.addEventListener("focus", () => (svg.style.outline = "3px solid #e8590c"));
    svg.addEventListener("blur", () => (svg.style.outline = ""));
    svg.addEventListener("keydown", (e) => {
      const to = { ArrowDown: Math.min(rows - 1, current + 1), ArrowUp: Math.max(0, current < 0 ? 0 : current - 1), Home: 0, End: rows - 1 }[e.key];
      if (to !== undefined) {
        e.preventDefault();
        if (to !== current) opts.onRow(to);
      } else if (e.key === "Escape" && current >= 0) opts.onRow(current); // choosing it again clears it
    });
  }
  return (values, view, cmap, query) => {
    const [lo, hi] = limits(view, values);
    shown = values;
    current = query;
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

// ---------------------------------------------------------------------------------------------------
// The mask editor: an L × S grid of buttons (one per query–key pair), coloured by the weight, grey where
// masked. Click a cell, or Tab to the grid, move with the arrow keys and press Space or Enter, to mask
// or unmask it. The mask applied is the reader's cells, and causal, and the padding (compute.js's
// editorMask); a second panel writes it in nn.MultiheadAttention's and Hugging Face's conventions.

const MASKED = "#bbbbbb";
const FOCUS = "3px solid #e8590c";

// Black or white text, whichever contrasts more with the background (at least 4.5:1 either way).
function textOn(hex) {
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [1, 3, 5].map((i) => lin(parseInt(hex.slice(i, i + 2), 16) / 255));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000000" : "#ffffff";
}

// A boolean or float matrix as PyTorch prints it, one row a line.
function matrixText(values, rows, cols, format) {
  const cells = Array.from(values, format);
  const width = Math.max(...cells.map((c) => c.length));
  const lines = [];
  for (let i = 0; i < rows; i++) lines.push("[" + cells.slice(i * cols, (i + 1) * cols).map((c) => c.padStart(width)).join(", ") + "]");
  return "[" + lines.join(",\n ") + "]";
}

function renderMask(model, el) {
  const data = model.get("data");
  const [, , L, S] = data.shape;
  const xs = data.x_labels;
  const ys = data.y_labels;
  const controls = make("div", { class: "attnlab-controls" }, el);
  const causalWrap = make("label", { class: "attnlab-control attnlab-causal" }, controls);
  const causalBox = make("input", { type: "checkbox" }, causalWrap);
  make("span", { text: " causal (query i sees keys 0..i)" }, causalWrap);
  const padWrap = make("label", { class: "attnlab-control attnlab-padding" }, controls);
  make("span", { text: "real keys " }, padWrap);
  const padInput = make("input", { type: "number", min: 0, max: S, step: 1, "aria-label": `real keys (0 to ${S}; the rest are padding)` }, padWrap);
  make("span", { text: ` of ${S}` }, padWrap);
  const reset = make("button", { type: "button", class: "attnlab-reset", text: "unmask every cell" }, controls);
  const body = make("div", { class: "attnlab-body" }, el);
  const left = make("div", { class: "attnlab-mask-editor", style: "max-width:100%;min-width:0;overflow-x:auto" }, body);
  make("p", { class: "attnlab-hint", text: "Click a cell, or Tab to the grid, move with the arrow keys and press Space, to mask or unmask that pair. Colour and number: the weight; grey ×: masked." }, left);
  const table = make("table", { role: "grid", "aria-label": data.alt, class: "attnlab-mask-grid", style: "border-collapse:collapse" }, left);
  const head = make("tr", {}, make("thead", {}, table));
  make("th", { scope: "col", class: "attnlab-label", style: "font-weight:normal;font-size:10px;padding-right:4px", text: "query \\ key" }, head);
  xs.forEach((s) => make("th", { scope: "col", class: "attnlab-label", style: "font-weight:normal;padding:0 2px", text: s }, head));
  const tbody = make("tbody", {}, table);
  let active = 0; // the cell the keyboard is on (roving tabindex)
  const buttons = [];
  for (let i = 0; i < L; i++) {
    const tr = make("tr", {}, tbody);
    make("th", { scope: "row", class: "attnlab-label", style: "font-weight:normal;text-align:right;padding-right:4px", text: ys[i] }, tr);
    for (let j = 0; j < S; j++) {
      const td = make("td", { role: "gridcell", style: "padding:1px" }, tr);
      const b = make("button", { type: "button", class: "attnlab-cell", "data-row": i, "data-col": j, tabindex: i === 0 && j === 0 ? 0 : -1, style: "width:2.6rem;height:1.7rem;border:0;padding:0;font:inherit;font-size:11px;font-variant-numeric:tabular-nums;cursor:pointer" }, td);
      b.addEventListener("click", () => toggle(i * S + j));
      b.addEventListener("focus", () => {
        b.style.outline = FOCUS;
        b.style.outlineOffset = "-3px";
        moveTo(i * S + j, false);
      });
      b.addEventListener("blur", () => (b.style.outline = ""));
      buttons.push(b);
    }
  }
  const status = make("p", { class: "attnlab-hint attnlab-status", "aria-live": "polite" }, left);
  const empty = make("p", { class: "attnlab-empty", "aria-live": "polite" }, left);
  const panel = make("div", { class: "attnlab-conventions", style: "max-width:100%;min-width:0" }, body);
  make("div", { class: "attnlab-panel-title", text: "The same mask in PyTorch's and Hugging Face's conventions" }, panel);
  const section = (cls, title, wrap = false) => {
    make("p", { class: "attnlab-hint", text: title, style: "margin:0.4rem 0 0.1rem 0" }, panel);
    return make("pre", { class: cls, style: `margin:0;overflow-x:auto;font-size:11px${wrap ? ";white-space:pre-wrap;max-width:32rem" : ""}` }, panel);
  };
  const mhaText = section("attnlab-mha", "nn.MultiheadAttention(attn_mask=...), bool, True = blocked:");
  const addText = section("attnlab-additive", "the same as a float mask, added to the logits (0 = keep, -inf = blocked):");
  const hfText = section("attnlab-hf", "Hugging Face's attention_mask, one 0/1 per key (1 = keep):", true);

  const state = () => ({ cells: model.get("cells"), causal: Boolean(model.get("causal")), padding: model.get("padding") });
  const commit = (changes) => {
    const next = { ...state(), ...changes };
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.set("mask", editorMask(next.cells, L, S, next));
    model.save_changes();
  };
  function moveTo(idx, focus = true) {
    if (buttons[active]) buttons[active].setAttribute("tabindex", -1);
    active = idx;
    buttons[idx].setAttribute("tabindex", 0);
    if (focus) buttons[idx].focus();
  }
  function toggle(idx) {
    const s = state();
    const [i, j] = [Math.floor(idx / S), idx % S];
    const pair = `“${ys[i]}” → “${xs[j]}”`;
    moveTo(idx, false);
    const cells = Array.from(s.cells);
    cells[idx] = !cells[idx];
    const blocked = j >= s.padding ? "a padding key" : s.causal && j > i ? "in the future (causal)" : "";
    commit({ cells });
    status.textContent = cells[idx] && blocked ? `${pair}: unmasked by you, but still masked: ${blocked}.` : `${pair}: ${cells[idx] ? "unmasked" : "masked"}.`;
  }
  table.addEventListener("keydown", (e) => {
    const [i, j] = [Math.floor(active / S), active % S];
    const to = { ArrowUp: [i - 1, j], ArrowDown: [i + 1, j], ArrowLeft: [i, j - 1], ArrowRight: [i, j + 1], Home: [i, 0], End: [i, S - 1] }[e.key];
    if (!to) return; // Space and Enter press the button: its click toggles the pair
    e.preventDefault();
    const [r, c] = [Math.max(0, Math.min(L - 1, to[0])), Math.max(0, Math.min(S - 1, to[1]))];
    moveTo(r * S + c);
  });
  causalBox.addEventListener("change", () => commit({ causal: causalBox.checked }));
  const onPadding = (e) => {
    if (padInput.value.trim() === "" && e.type === "input") return; // the reader is still typing
    const n = Number(padInput.value);
    if (Number.isInteger(n) && n >= 0 && n <= S) {
      if (n !== model.get("padding")) commit({ padding: n });
    } else status.textContent = `real keys must be a whole number from 0 to ${S}, got ${padInput.value}`;
  };
  padInput.addEventListener("input", onPadding);
  padInput.addEventListener("change", onPadding);
  reset.addEventListener("click", () => {
    commit({ cells: Array(L * S).fill(true) });
    status.textContent = "every cell unmasked by you (causal and padding still apply).";
  });

  const draw = () => {
    try {
      const s = state();
      const mask = editorMask(s.cells, L, S, s);
      const weights = attentionViews(data.scores, { rows: L, cols: S, dk: data.d_k, mask }).weights;
      const [lo, hi] = limits("weights", weights);
      buttons.forEach((b, idx) => {
        const [i, j] = [Math.floor(idx / S), idx % S];
        const fill = mask[idx] ? colour(data.cmap, weights[idx], lo, hi) : MASKED;
        b.style.background = fill;
        b.style.color = textOn(fill);
        b.textContent = mask[idx] ? weights[idx].toFixed(2) : "×";
        b.setAttribute("aria-pressed", mask[idx] ? "false" : "true");
        b.setAttribute("aria-label", `${ys[i]} → ${xs[j]}: ${mask[idx] ? weights[idx].toFixed(2) : "masked"}`);
      });
      table.attnlabValues = weights; // what is drawn, at full precision, for tests
      table.attnlabMask = mask;
      if (causalBox.checked !== s.causal) causalBox.checked = s.causal;
      if (document.activeElement !== padInput || Number(padInput.value) !== s.padding) padInput.value = String(s.padding);
      const blind = emptyRows(mask, L, S);
      empty.textContent = blind.length
        ? `${blind.length === 1 ? "Query" : "Queries"} ${blind.map((i) => `“${ys[i]}”`).join(", ")} may attend to no key: attnlab gives ${blind.length === 1 ? "its row" : "their rows"} all-zero weights (a plain softmax would give NaN).`
        : "";
      const attnMask = toMhaMask(mask);
      const additive = boolToAdditive(mask);
      const hf = perKeyHfMask(mask, L, S);
      mhaText.textContent = matrixText(attnMask, L, S, (m) => (m ? "True" : "False"));
      addText.textContent = matrixText(additive, L, S, (v) => (v === -Infinity ? "-inf" : "0."));
      if (hf) hfText.textContent = `attention_mask = [[${hf.join(", ")}]]`;
      else {
        const noCausal = perKeyHfMask(editorMask(s.cells, L, S, { padding: s.padding }), L, S);
        const rows = [...Array(L).keys()].filter((i) => mask.slice(i * S, (i + 1) * S).some((m, j) => m !== mask[j]));
        hfText.textContent =
          s.causal && noCausal
            ? `No per-key attention_mask gives this mask: its rows differ. A Hugging Face decoder adds the causal part itself; its attention_mask = [[${noCausal.join(", ")}]] holds the padding.`
            : `No per-key attention_mask gives this mask: it gives every query the same keys, and here queries “${ys[0]}” and “${ys[rows[0]]}” differ.`;
      }
      panel.attnlabConventions = { attn_mask: attnMask, additive: Array.from(additive), attention_mask: hf };
      el.dataset.drawn = `${s.causal ? "causal" : "open"}/${s.padding}/${mask.map((m) => (m ? 1 : 0)).join("")}`;
    } catch (err) {
      el.dataset.error = String(err);
      make("pre", { class: "attnlab-error", text: `explorer could not draw: ${err}` }, el);
    }
  };
  return { draw, cleanup: () => {} };
}

// ---------------------------------------------------------------------------------------------------
// The sentence explorer: the reader types a sentence and the page runs the model's head on it
// (compute.js's sentenceMap, from the weights in data.reader). Words outside the vocabulary, and words
// beyond max_len, are shown struck through and skipped; with no word left the map gives way to a message.

function renderSentence(model, el) {
  const data = model.get("data");
  const reader = data.reader;
  const vocab = reader.vocab.filter((w) => w !== "·");
  const controls = make("div", { class: "attnlab-controls" }, el);
  const wrap = make("label", { class: "attnlab-control attnlab-sentence-input" }, controls);
  make("span", { text: "your sentence " }, wrap);
  const input = make("input", { type: "text", size: 48, spellcheck: "false", autocomplete: "off", "aria-label": "your sentence" }, wrap);
  make("p", { class: "attnlab-hint attnlab-vocab", text: `Words it knows (up to ${reader.max_len} in a sentence): ${vocab.join(", ")}.` }, el);
  const shown = make("p", { class: "attnlab-hint attnlab-words", "aria-live": "polite" }, el);
  const body = make("div", { class: "attnlab-body" }, el);
  const box = make("div", { class: "attnlab-detail attnlab-sentence" }, body);
  const bars = rowBars(body);
  const set = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  input.addEventListener("input", () => set("sentence", input.value));
  let key = null; // the words the map was built for: a new sentence builds a new map
  let drawMap = null;
  let words = [];
  let query = -1;
  const onRow = (i) => {
    query = query === i ? -1 : i;
    draw();
  };
  const draw = () => {
    try {
      const text = model.get("sentence") || "";
      if (input.value !== text) input.value = text;
      const result = sentenceMap(text, reader);
      shown.replaceChildren();
      if (result.skipped.length) {
        make("span", { text: "Skipped: " }, shown);
        result.skipped.forEach(([w, why], i) => {
          make("del", { class: "attnlab-skipped", title: why, text: w }, shown);
          make("span", { text: ` (${why})${i + 1 < result.skipped.length ? ", " : "."}` }, shown);
        });
      }
      if (!result.weights) {
        box.replaceChildren();
        key = null;
        drawMap = null;
        query = -1;
        make("p", { class: "attnlab-hint attnlab-empty", text: "Type a sentence made of the words above to see where each word looks." }, box);
        bars([], [], -1, "");
        el.dataset.drawn = "empty";
        return;
      }
      const L = result.words.length;
      if (key !== result.words.join(" ")) {
        key = result.words.join(" ");
        words = result.words;
        query = query < L ? query : -1;
        box.replaceChildren();
        drawMap = heatmap(box, L, L, { rowLabels: words, colLabels: words, onRow, alt: `${data.alt}: “${key}”` });
      }
      drawMap(result.weights, "weights", data.cmap, query);
      bars(words, query >= 0 ? result.weights.slice(query * L, (query + 1) * L) : [], query, words[query]);
      el.dataset.drawn = key;
    } catch (err) {
      el.dataset.error = String(err);
      make("pre", { class: "attnlab-error", text: `explorer could not draw: ${err}` }, el);
    }
  };
  return { draw, cleanup: () => {} };
}

function render({ model, el }) {
  el.classList.add("attnlab-explorer");
  const names = ["setting", "view", "layer", "head", "query", "temperature", "scaled", "cells", "causal", "padding", "sentence"];
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
    current = kind === "frames" ? renderFrames(model, el) : kind === "mask" ? renderMask(model, el) : kind === "sentence" ? renderSentence(model, el) : renderHeatmap(model, el, kind === "grid");
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
