// The machine a comparison ran on: /proc/cpuinfo's CPU (family, model, clock, AVX-512 flags) and what attnkit
// dispatches to on it, with that kernel table's peak on one core as `attnkit bench` measures it (C1, one run: the
// peak loop of attnkit/peak.hpp takes ~0.1 s). Each native cell also reports its own peak, measured in its process.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

function lastJsonLine(text) {
  const line = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  try {
    return line ? JSON.parse(line) : undefined;
  } catch {
    return undefined;
  }
}

function nativeMachine(native) {
  if (!existsSync(native)) return undefined;
  const r = spawnSync(native, ['bench', '--config', 'C1', '--repeats', '1', '--format', 'json'], { encoding: 'utf8' });
  return r.status === 0 ? lastJsonLine(r.stdout)?.machine : undefined;
}

/** native: the path of the `attnkit` CLI. */
export function machine(native) {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1];
  const flags = /flags\s*:\s*(.*)/.exec(info)?.[1].split(' ') || [];
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(info)?.[1];
  return {
    cpu: model,
    cores: cpus().length,
    mhz: mhz ? Number(mhz) : undefined,
    avx512: ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].filter((f) => flags.includes(f)),
    family: Number(/cpu family\s*:\s*(\d+)/.exec(info)?.[1]),
    model: Number(/model\s*:\s*(\d+)/.exec(info)?.[1]),
    fma: flags.includes('fma'),
    avx2: flags.includes('avx2'),
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    attnkit: nativeMachine(native), // { cpu, family, model, mhz, table, peak_gflops_per_core }
  };
}
