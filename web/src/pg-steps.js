// The playground's "every intermediate": one heatmap per step the module computed, for the selected head
// and batch item, in the order the mechanism computes them.
import { S } from './strings.js';
import { block2d } from './util.js';
import { MatrixView } from './charts.js';

const STEP_ORDER = [
  'queries',
  'keys',
  'values',
  'scores',
  'scaled_scores',
  'masked_scores',
  'unmasked_weights',
  'weights',
  'weights_after_dropout',
  'context_before_out_proj',
  'context',
];
const WEIGHTLIKE = new Set(['unmasked_weights', 'weights', 'weights_after_dropout']);
const PER_HEAD_COLUMNS = new Set(['queries', 'keys', 'values']);

export function renderSteps({ result, tokens, n, blk, batch, stepViews, stepsGrid }) {
  const I = result.intermediates;
  const present = STEP_ORDER.filter((name) => I[name]);
  for (const [name, v] of stepViews)
    if (!present.includes(name)) {
      v.el.remove();
      stepViews.delete(name);
    }
  for (const name of present) {
    let v = stepViews.get(name);
    if (!v) {
      v = new MatrixView({
        title: S.pg.inames[name] || name,
        name: `pg-i-${name}`,
        kind: WEIGHTLIKE.has(name) ? 'weights' : 'signed',
        maxWidth: 420,
      });
      stepViews.set(name, v);
    }
    stepsGrid.append(v.el); // keeps STEP_ORDER
    const t = I[name];
    const m = t.shape.length === 4 ? block2d(t, blk) : block2d(t, batch);
    const square = t.shape.length === 4 && t.shape[3] === n && !PER_HEAD_COLUMNS.has(name);
    v.update({
      ...m,
      rowLabels: tokens,
      colLabels: square ? tokens : Array.from({ length: m.cols }, (_, k) => String(k + 1)),
    });
  }
}
