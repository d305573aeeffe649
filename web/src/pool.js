// Max-pooling of each head's (n × n) weights to at most THUMB × THUMB, for the grid of heads: run in the
// worker (no DOM), so the page's thread only colours the small thumbnails.
const THUMB = 96;

/** Max-pools each (rows × cols) block of `weights` (count blocks) to at most THUMB × THUMB. */
export function poolHeads(weights, count, rows, cols) {
  const sr = Math.min(rows, THUMB),
    sc = Math.min(cols, THUMB);
  const out = new Float32Array(count * sr * sc);
  const col = new Int32Array(cols);
  for (let j = 0; j < cols; j++) col[j] = Math.floor((j * sc) / cols);
  for (let b = 0; b < count; b++) {
    const src = b * rows * cols,
      dst = b * sr * sc;
    for (let i = 0; i < rows; i++) {
      const row = dst + Math.floor((i * sr) / rows) * sc;
      for (let j = 0, k = src + i * cols; j < cols; j++, k++) {
        const v = weights[k];
        if (v > out[row + col[j]]) out[row + col[j]] = v;
      }
    }
  }
  return { data: out, rows: sr, cols: sc };
}
