// The report's text: times in a readable unit and markdown tables (report.mjs, goals.mjs).

export function fmtTime(ms) {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 0.1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

// align: one 'l' or 'r' per column (default all right-aligned: figures).
export function markdown(head, rows, align = []) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = (i) => align[i] === 'l';
  const line = (cells) => '| ' + cells.map((c, i) => (left(i) ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  const rule = w.map((n, i) => (left(i) ? ':' + '-'.repeat(n + 1) : '-'.repeat(n + 1) + ':'));
  return [line(head), '|' + rule.join('|') + '|', ...rows.map(line)].join('\n');
}
