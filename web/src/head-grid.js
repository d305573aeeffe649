// Every head at once (bertviz's model view, one layer): a thumbnail of each head's weights; clicking one
// (or Enter/Space on it) opens it in the single-head view. Thumbnails are at most THUMB × THUMB pixels:
// larger maps are max-pooled (in the worker, poolHeads), so a sharp diagonal stays visible at 1024 tokens.
import { S } from './strings.js';
import { h, dataJson } from './util.js';
import { lut, mapping, index } from './colors.js';

function thumbnail(data, rows, cols, mode) {
  const map = mapping('weights', mode, data, rows, cols);
  const rgb = lut('viridis').rgb;
  const canvas = h('canvas', { width: cols, height: rows, 'aria-hidden': 'true' });
  const img = new ImageData(cols, rows);
  for (let k = 0; k < rows * cols; k++) {
    const c = index(map.t(data[k], Math.floor(k / cols))) * 3;
    img.data[k * 4] = rgb[c];
    img.data[k * 4 + 1] = rgb[c + 1];
    img.data[k * 4 + 2] = rgb[c + 2];
    img.data[k * 4 + 3] = 255;
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
  return canvas;
}

export class HeadGrid {
  constructor({ onPick }) {
    this.onPick = onPick;
    this.list = h('div', { class: 'head-grid', role: 'group', 'aria-labelledby': 'pg-grid-h' });
    this.el = h(
      'figure',
      { class: 'head-grid-view', id: 'pg-grid' },
      h('figcaption', { id: 'pg-grid-h' }, S.pg.gridTitle),
      h('p', { class: 'help' }, S.pg.gridHelp),
      this.list,
    );
  }

  /** thumbs: {data (H, rows, cols) pooled weights of one batch item, rows, cols}; full: its weights when small. */
  update({ thumbs, H, full, current, mode }) {
    const buttons = [];
    const per = thumbs.rows * thumbs.cols;
    for (let k = 0; k < H; k++) {
      const small =
        full && full.length / H <= 1024
          ? { values: dataJson(full.subarray((k * full.length) / H, ((k + 1) * full.length) / H)) }
          : {};
      const b = h(
        'button',
        {
          type: 'button',
          class: 'head-cell',
          'aria-pressed': String(k === current),
          dataset: { head: k, ...small },
          onclick: () => this.onPick(k),
        },
        thumbnail(thumbs.data.subarray(k * per, (k + 1) * per), thumbs.rows, thumbs.cols, mode),
        h('span', { class: 'head-label' }, S.pg.headN(k)),
      );
      buttons.push(b);
    }
    this.list.replaceChildren(...buttons);
    this.el.dataset.heads = H;
  }

  select(k) {
    this.list
      .querySelectorAll('.head-cell')
      .forEach((b) => b.setAttribute('aria-pressed', String(+b.dataset.head === k)));
  }
}
