// Max-pooling of each head's (n × n) weights to at most THUMB × THUMB, for the grid of heads: run in the
// worker (no DOM), so the page's thread only colours the small thumbnails.
const THUMB = 96;

/** Max-pools each (n × n) block of `weights` (count blocks) to side × side; the worker calls this. */
export function poolHeads(weights, count, n, side = Math.min(n, THUMB)) {
  const out = new Float32Array(count * side * side);
  const col = new Int32Array(n);
  for (let j = 0; j < n; j++) col[j] = Math.floor((j * side) / n);
  for (let b = 0; b < count; b++) {
    const src = b * n * n,
      dst = b * side * side;
    for (let i = 0; i < n; i++) {
      const row = dst + Math.floor((i * side) / n) * side;
      for (let j = 0, k = src + i * n; j < n; j++, k++) {
        const v = weights[k];
        if (v > out[row + col[j]]) out[row + col[j]] = v;
      }
    }
  }
  return { data: out, side };
}
