// The playground's summary line and its take-away buttons: copy the state_dict (JSON for Paste JSON), and
// edit the current input and parameters as JSON.
import { S } from './strings.js';
import { h, fmtSci, stateDictToNested } from './util.js';

const T = S.pg;

export function summarise(summary, r, m) {
  const cs = `(${r.contextShape.join(', ')})`;
  let check;
  if (typeof r.crossCheck === 'number') {
    // Relative to the context's size: float32 keeps ~7 digits, whatever the magnitude.
    let scale = 1;
    for (const v of r.context) if (Math.abs(v) > scale) scale = Math.abs(v);
    const ok = r.crossCheck <= 1e-4 * scale;
    check = h(
      'span',
      {
        class: `badge ${ok ? 'ok' : 'bad'}`,
        dataset: { crosscheck: r.crossCheck, crosscheckRel: r.crossCheck / scale },
      },
      ok ? T.crossCheck(fmtSci(r.crossCheck / scale)) : T.crossCheckBad(fmtSci(r.crossCheck / scale)),
    );
  } else
    check = h(
      'span',
      { class: 'muted', dataset: { crosscheckSkipped: r.crossCheckSkipped } },
      T.crossCheckSkipped[r.crossCheckSkipped],
    );
  summary.replaceChildren(h('span', null, T.summary(m, cs, r.ms.toFixed(2))), check);
}

export async function copyStateDict(last, copyStatus) {
  if (!last?.result.stateDict) return;
  const text = JSON.stringify(stateDictToNested(last.result.stateDict));
  try {
    await navigator.clipboard.writeText(text);
    copyStatus.textContent = T.copiedSd(Object.keys(last.result.stateDict).length);
  } catch (e) {
    copyStatus.textContent = T.copyFailed(e.message);
  }
}

export function editAsJson(last, c, schedule) {
  if (!last?.result.stateDict) return;
  const { tokens, x, shape } = last;
  const [b, n, d] = shape;
  const rows = (off) => Array.from({ length: n }, (_, i) => Array.from(x.subarray(off + i * d, off + (i + 1) * d)));
  const nested = b === 1 ? rows(0) : Array.from({ length: b }, (_, k) => rows(k * n * d));
  c.xJson.value = JSON.stringify({ tokens, x: nested });
  c.sdJson.value = JSON.stringify(stateDictToNested(last.result.stateDict), null, 1);
  c.modeJson.checked = true;
  schedule();
  c.sdJson.focus();
}
