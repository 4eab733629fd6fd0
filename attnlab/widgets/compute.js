// attnlab's attention arithmetic in the browser: pure functions on flat, row-major arrays, no DOM.
//
// The explorers draw what these functions compute, so a static page recomputes attention with no
// kernel. Each function follows attnlab (attnlab/functional.py, attnlab/masks.py) and is tested against
// it to 1e-6 (tests/test_compute_js.py, in Node and in Chromium). Conventions:
//   * a matrix is a flat array (Array or Float64Array) read row by row; several matrices of the same
//     size (layers × heads blocks) follow each other in one array;
//   * a boolean mask is truthy where a query MAY attend (attnlab's and PyTorch SDPA's convention);
//     an additive mask holds numbers added to the logits (0 keeps a pair, -Infinity removes it);
//   * a query row with nothing visible gets all-zero weights, never NaN.
// explorer.js imports from this file; attnlab/widgets/_base.py inlines it into the widget's one module.
// New computations (a forward pass, a mask editor's masks) go in a section of their own below.

// ---------------------------------------------------------------------------------------------------
// Checks

function check(ok, message) {
  if (!ok) throw new RangeError(message);
}

function checkSize(values, rows, cols, what) {
  check(Number.isInteger(rows) && rows >= 1 && Number.isInteger(cols) && cols >= 1, `${what}: rows and cols must be positive integers, got ${rows} and ${cols}`);
  check(values.length % (rows * cols) === 0, `${what} has ${values.length} values, not a whole number of ${rows}×${cols} matrices`);
}

// ---------------------------------------------------------------------------------------------------
// Softmax, scaling and the three views of an attention map

// The factor that multiplies the scores before softmax: (1/√d_k if scaled, else 1) / temperature.
export function logitScale(dk, { scaled = true, temperature = 1 } = {}) {
  check(Number.isFinite(temperature) && temperature > 0, `temperature must be a positive number, got ${temperature}`);
  check(Number.isInteger(dk) && dk >= 1, `d_k must be a positive integer, got ${dk}`);
  return (scaled ? 1 / Math.sqrt(dk) : 1) / temperature;
}

// Every value times `factor`; -Infinity (a masked pair) stays -Infinity.
export function scale(values, factor) {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] === -Infinity ? -Infinity : values[i] * factor;
  return out;
}

// Row-wise softmax of logits (rows × cols matrices, one after another), stable: each row's maximum is
// subtracted first. `temperature` divides the logits. A row whose logits are all -Infinity (nothing
// visible) becomes zeros, as in attnlab.
export function softmaxRows(logits, rows, cols, temperature = 1) {
  checkSize(logits, rows, cols, "logits");
  check(Number.isFinite(temperature) && temperature > 0, `temperature must be a positive number, got ${temperature}`);
  const out = new Float64Array(logits.length);
  for (let start = 0; start < logits.length; start += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, logits[start + j]);
    if (max === -Infinity) continue; // nothing visible: zeros
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp((logits[start + j] - max) / temperature);
      out[start + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) out[start + j] /= sum;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Masks: attnlab's boolean (truthy = may attend) and additive conventions, and the conversions

// -Infinity where a boolean mask (rows × cols, shared by every block) forbids the pair.
export function applyMask(logits, mask, rows, cols) {
  checkSize(logits, rows, cols, "logits");
  check(mask.length === rows * cols, `the mask has ${mask.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  const out = Float64Array.from(logits);
  for (let i = 0; i < out.length; i++) if (!mask[i % mask.length]) out[i] = -Infinity;
  return out;
}

// Logits plus an additive mask (rows × cols, shared by every block).
export function addMask(logits, additive, rows, cols) {
  checkSize(logits, rows, cols, "logits");
  check(additive.length === rows * cols, `the mask has ${additive.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < out.length; i++) out[i] = logits[i] + additive[i % additive.length];
  return out;
}

// Boolean (truthy = may attend) → additive: 0 where a pair may attend, -Infinity where not.
export function boolToAdditive(mask) {
  return Float64Array.from(mask, (m) => (m ? 0 : -Infinity));
}

// Additive → boolean: a pair may attend where its added value is not -Infinity.
export function additiveToBool(additive) {
  return Array.from(additive, (v) => v !== -Infinity);
}

// attnlab's boolean mask → nn.MultiheadAttention's attn_mask convention: true = may NOT attend.
export function toMhaMask(mask) {
  return Array.from(mask, (m) => !m);
}

// nn.MultiheadAttention's boolean mask (true = blocked) → attnlab's (true = may attend).
export function fromMhaMask(mask) {
  return Array.from(mask, (m) => !m);
}

// attnlab's boolean mask → Hugging Face's attention_mask convention: 1 = keep (attend), 0 = masked.
export function toHfMask(mask) {
  return Array.from(mask, (m) => (m ? 1 : 0));
}

// Hugging Face's 1/0 mask → attnlab's boolean mask.
export function fromHfMask(mask) {
  return Array.from(mask, (m) => m !== 0);
}

// Query i may attend to keys 0..i (top-left aligned, like attnlab.causal_mask and is_causal=True).
export function causalMask(rows, cols = rows) {
  checkSize([], rows, cols, "causal mask");
  return Array.from({ length: rows * cols }, (_, idx) => idx % cols <= Math.floor(idx / cols));
}

// Every query may attend to the first `length` keys only: the rest are padding.
export function paddingMask(rows, cols, length) {
  checkSize([], rows, cols, "padding mask");
  check(Number.isInteger(length) && length >= 0 && length <= cols, `length must be an integer in 0..${cols}, got ${length}`);
  return Array.from({ length: rows * cols }, (_, idx) => idx % cols < length);
}

// A pair may attend only where every mask allows it (attnlab.combine_masks for boolean masks).
export function combineMasks(...masks) {
  check(masks.length > 0, "combineMasks needs at least one mask");
  const n = masks[0].length;
  masks.forEach((m) => check(m.length === n, `masks of different sizes: ${masks.map((x) => x.length).join(", ")}`));
  return Array.from({ length: n }, (_, i) => masks.every((m) => Boolean(m[i])));
}

// ---------------------------------------------------------------------------------------------------
// Matrix products: the pieces of a small forward pass

// nn.Linear: x (n × inFeatures) → x Wᵀ + b (n × outFeatures); weight is (outFeatures × inFeatures) as
// in PyTorch's state dict, bias (outFeatures) or null.
export function linear(x, weight, bias, n, inFeatures, outFeatures) {
  check(x.length === n * inFeatures, `x has ${x.length} values, expected ${n}×${inFeatures}`);
  check(weight.length === outFeatures * inFeatures, `weight has ${weight.length} values, expected ${outFeatures}×${inFeatures}`);
  check(!bias || bias.length === outFeatures, `bias has ${bias && bias.length} values, expected ${outFeatures}`);
  const out = new Float64Array(n * outFeatures);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias ? bias[o] : 0;
      for (let f = 0; f < inFeatures; f++) sum += x[i * inFeatures + f] * weight[o * inFeatures + f];
      out[i * outFeatures + o] = sum;
    }
  }
  return out;
}

// Raw scores Q Kᵀ: q (L × E), k (S × E) → (L × S).
export function scoresQK(q, k, L, S, E) {
  check(q.length === L * E && k.length === S * E, `q has ${q.length} and k ${k.length} values, expected ${L}×${E} and ${S}×${E}`);
  return linear(q, k, null, L, E, S);
}

// ---------------------------------------------------------------------------------------------------
// The views an explorer draws, from raw scores Q Kᵀ

export const VIEWS = ["weights", "scaled scores", "raw scores"];

// From raw scores (blocks of rows × cols) to what an explorer can show:
//   "raw scores"    Q Kᵀ, as given (never masked);
//   "scaled scores" the logits softmax sees: Q Kᵀ · (1/√d_k if scaled) / temperature, masked with -Infinity;
//   "weights"       their row-wise softmax; a row with nothing visible is all zeros.
// mask: an optional boolean mask (rows × cols, truthy = may attend), shared by every block.
// This is attnlab.attention_weights / attention_logits with scale = logitScale(dk, {scaled, temperature}).
export function attentionViews(scores, { rows, cols, dk, scaled = true, temperature = 1, mask = null }) {
  checkSize(scores, rows, cols, "scores");
  const logits = scale(scores, logitScale(dk, { scaled, temperature }));
  const masked = mask ? applyMask(logits, mask, rows, cols) : logits;
  return { "raw scores": Float64Array.from(scores), "scaled scores": masked, weights: softmaxRows(masked, rows, cols) };
}

// One rows × cols block (block b of a flat array of blocks).
export function block(values, b, rows, cols) {
  const size = rows * cols;
  check(Number.isInteger(b) && b >= 0 && (b + 1) * size <= values.length, `block ${b} is out of range: there are ${values.length / size}`);
  return values.slice(b * size, (b + 1) * size);
}

// ---------------------------------------------------------------------------------------------------
// The mask editor: the reader's cells, causal and padding in one mask, and Hugging Face's per-key form

// The mask the editor applies (rows × cols, truthy = may attend): the reader's own cells, and the causal
// mask when `causal`, and the padding mask of `padding` real keys (attnlab.combine_masks of the three).
export function editorMask(cells, rows, cols, { causal = false, padding = cols } = {}) {
  check(cells.length === rows * cols, `the cells hold ${cells.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  const parts = [cells, paddingMask(rows, cols, padding)];
  if (causal) parts.push(causalMask(rows, cols));
  return combineMasks(...parts);
}

// Hugging Face's attention_mask (one 0/1 flag per key, 1 = keep) that gives this boolean mask, or null
// when no per-key mask can: the rows differ (a causal mask, or cells edited in one row only).
export function perKeyHfMask(mask, rows, cols) {
  check(mask.length === rows * cols, `the mask has ${mask.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  for (let i = 1; i < rows; i++) for (let j = 0; j < cols; j++) if (Boolean(mask[i * cols + j]) !== Boolean(mask[j])) return null;
  return toHfMask(Array.from(mask).slice(0, cols));
}

// The query rows (0-based) that may attend to no key: their weights are all zero in attnlab.
export function emptyRows(mask, rows, cols) {
  check(mask.length === rows * cols, `the mask has ${mask.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  const out = [];
  for (let i = 0; i < rows; i++) if (!Array.from(mask.slice(i * cols, (i + 1) * cols)).some(Boolean)) out.push(i);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// A tiny forward pass: one attention head of a trained model (attnlab.tasks.grammar.Reader) on a
// sentence the reader types, from the weights the widget state carries (grammar.head_weights).

const PUNCTUATION = ".,;:!?\"'";

function stripPunctuation(word) {
  let a = 0;
  let b = word.length;
  while (a < b && PUNCTUATION.includes(word[a])) a++;
  while (b > a && PUNCTUATION.includes(word[b - 1])) b--;
  return word.slice(a, b);
}

// The words of `text` the model can read, and the words skipped with why (grammar.read_words): split on
// white space, lower-cased, stripped of .,;:!?"' ; a word not in `vocab` (or in `exclude`, the padding)
// is skipped, and so is every word after the first `maxLen` kept ones.
export function readWords(text, vocab, maxLen, exclude = []) {
  const known = new Set(vocab.filter((w) => !exclude.includes(w)));
  const kept = [];
  const skipped = [];
  for (const raw of String(text).split(/\s+/)) {
    const word = stripPunctuation(raw).toLowerCase();
    if (!word) continue;
    if (!known.has(word)) skipped.push([raw, "not in the vocabulary"]);
    else if (kept.length >= maxLen) skipped.push([raw, `beyond ${maxLen} words`]);
    else kept.push(word);
  }
  return { kept, skipped };
}

// Token plus position embedding: ids (L) → x (L × d); tok (V × d) and pos (≥ L × d) flat, row-major.
export function embed(ids, tok, pos, d) {
  check(Number.isInteger(d) && d >= 1, `d must be a positive integer, got ${d}`);
  check(tok.length % d === 0 && pos.length % d === 0, `tok has ${tok.length} and pos ${pos.length} values, not whole rows of ${d}`);
  const V = tok.length / d;
  check(ids.length <= pos.length / d, `${ids.length} words but only ${pos.length / d} positions`);
  const x = new Float64Array(ids.length * d);
  ids.forEach((id, i) => {
    check(Number.isInteger(id) && id >= 0 && id < V, `word index ${id} is out of range 0..${V - 1}`);
    for (let f = 0; f < d; f++) x[i * d + f] = tok[id * d + f] + pos[i * d + f];
  });
  return x;
}

// One head's weights on x (L × d): softmax((x W_qᵀ + b_q)(x W_kᵀ + b_k)ᵀ / √headDim), row by row (L × L).
// w_q, w_k (headDim × d) and b_q, b_k (headDim) flat, as in nn.MultiheadAttention's in_proj.
export function headWeights(x, { w_q, b_q, w_k, b_k }, L, d, headDim) {
  const q = linear(x, w_q, b_q, L, d, headDim);
  const k = linear(x, w_k, b_k, L, d, headDim);
  return softmaxRows(scale(scoresQK(q, k, L, L, headDim), 1 / Math.sqrt(headDim)), L, L);
}

// A typed sentence → { words, skipped, weights (L × L, null when no word is kept) }, from the nested
// lists of grammar.head_weights (reader.vocab, max_len, d, head_dim, tok, pos, w_q, b_q, w_k, b_k).
// The padding word "·" (the vocabulary's "pad") is never read.
export function sentenceMap(text, reader) {
  const { kept, skipped } = readWords(text, reader.vocab, reader.max_len, ["·"]);
  if (kept.length === 0) return { words: kept, skipped, weights: null };
  const flat = (a) => a.flat(Infinity);
  const ids = kept.map((w) => reader.vocab.indexOf(w));
  const x = embed(ids, flat(reader.tok), flat(reader.pos), reader.d);
  const head = { w_q: flat(reader.w_q), b_q: flat(reader.b_q), w_k: flat(reader.w_k), b_k: flat(reader.b_k) };
  return { words: kept, skipped, weights: headWeights(x, head, kept.length, reader.d, reader.head_dim) };
}
