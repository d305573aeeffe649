// The performance panel: C1–C3 of DESIGN.md in the worker, against the plain-JavaScript reference.
import { S } from "./strings.js";
import { h, fmtSci } from "./util.js";
import { multiheadFlops } from "./reference.js";

const P = S.perf;
export const CONFIGS = [
  { name: "C1", b: 2, n: 6, dIn: 3, dOut: 2, h: 2, runs: 51 },
  { name: "C2", b: 1, n: 1024, dIn: 768, dOut: 768, h: 12, runs: 5 },
  { name: "C3", b: 8, n: 256, dIn: 512, dOut: 512, h: 8, runs: 5 },
];

const work = (f) => (f < 1e6 ? `${f} FLOP` : f < 1e9 ? `${(f / 1e6).toPrecision(3)} MFLOP` : `${(f / 1e9).toPrecision(3)} GFLOP`);
const rate = (g) => (g >= 0.1 ? g.toFixed(2) : g.toPrecision(2));
const ms = (v) => (v < 1 ? `${(v * 1000).toFixed(0)} µs` : v < 1000 ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : `${(v / 1000).toFixed(2)} s`);

export function renderPerf(root, makeCompute) {
  // A worker of its own, started on first use, so long runs never hold up the playground.
  let compute = null;
  const getCompute = () => (compute ??= makeCompute());
  const status = h("p", { class: "perf-status", role: "status", "aria-live": "polite" });
  const bar = h("progress", { max: "1", value: "0", hidden: true, "aria-label": P.heading });
  const rows = new Map();
  const tbody = h("tbody", null, CONFIGS.map((c) => {
    const flops = multiheadFlops({ b: c.b, n: c.n, dIn: c.dIn, dOut: c.dOut, h: c.h });
    const cells = P.cols.slice(3).map(() => h("td", { class: "num" }, P.pending));
    const tr = h("tr", { dataset: { config: c.name } },
      h("th", { scope: "row" }, c.name),
      h("td", null, `b${c.b} · n${c.n} · d${c.dIn}${c.dIn !== c.dOut ? `→${c.dOut}` : ""} · h${c.h}`),
      h("td", { class: "num" }, work(flops)),
      cells);
    rows.set(c.name, cells);
    return tr;
  }));
  const buttons = CONFIGS.map((c) => h("button", { type: "button", dataset: { run: c.name }, onclick: () => runList([c]) }, P.run(c.name)));
  const all = h("button", { type: "button", class: "primary", onclick: () => runList(CONFIGS) }, P.runAll);
  const cancel = h("button", { type: "button", disabled: true, onclick: () => compute?.cancel() }, P.cancel);
  root.replaceChildren(
    h("div", { class: "row-buttons" }, all, buttons, cancel),
    h("div", { class: "perf-progress" }, bar, status),
    h("div", { class: "table-scroll" }, h("table", { class: "perf-table", id: "perf-table" }, h("thead", null, h("tr", null, P.cols.map((c) => h("th", { scope: "col" }, c)))), tbody)),
    h("p", { class: "help" }, P.flopsNote),
    h("p", { class: "help" }, P.smallNote),
  );

  let busy = false;
  async function runList(list) {
    if (busy) return;
    busy = true;
    [all, ...buttons].forEach((b) => (b.disabled = true));
    cancel.disabled = false;
    bar.hidden = false;
    try {
      for (const c of list) {
        const cells = rows.get(c.name);
        cells.forEach((td) => (td.textContent = "…"));
        const r = await getCompute().call("bench", { ...c, reference: true }, {
          onProgress: (p) => {
            if (p.phase === "wasm") {
              bar.value = (p.i / p.n) * 0.5;
              status.textContent = P.phaseWasm(c.name, p.i + 1, p.n);
            } else {
              bar.value = 0.5 + 0.5 * (p.f ?? 0);
              status.textContent = P.phaseRef(c.name);
            }
          },
        });
        const vals = [ms(r.medianMs), rate(r.gflops), ms(r.refMs), rate(r.refGflops), `${r.speedup.toFixed(1)}×`, fmtSci(r.maxDiff)];
        cells.forEach((td, k) => (td.textContent = vals[k]));
        cells[0].parentElement.dataset.medianMs = r.medianMs;
        cells[0].parentElement.dataset.speedup = r.speedup;
        cells[0].parentElement.dataset.maxdiff = r.maxDiff;
        bar.value = 1;
        status.textContent = P.done(c.name);
      }
    } catch (e) {
      status.textContent = e.name === "AbortError" ? P.cancelled : `${S.pg.errorPrefix}${e.message}`;
    } finally {
      busy = false;
      [all, ...buttons].forEach((b) => (b.disabled = false));
      cancel.disabled = true;
      bar.hidden = true;
    }
  }
}
