// The source's import graph: no cycles (type-only imports included, so the layering stays
// readable), a sink never imports another sink, and no sink sees the Tracer (docs/ARCHITECTURE.md).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');
/** Files in src/sinks/ that are not sinks: the Sink contract and the code that picks sinks. */
const SINK_PLUMBING = new Set(['sinks/sink.ts', 'sinks/context.ts', 'sinks/index.ts', 'sinks/fleet.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file (static, re-exports and dynamic import()), as src-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]);
  return specs.flatMap((spec) => {
    const base = resolve(dirname(file), spec);
    for (const candidate of [`${base}.ts`, join(base, 'index.ts'), `${base}.d.ts`]) {
      try { if (statSync(candidate).isFile()) return candidate.endsWith('.d.ts') ? [] : [relative(SRC, candidate)]; } catch { /* next */ }
    }
    return []; // e.g. a JSON file or the compiled addon
  });
}

const graph = new Map(sourceFiles(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

function cycles(): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (node: string): void => {
    if (onStack.has(node)) { found.push([...stack.slice(stack.indexOf(node)), node]); return; }
    if (done.has(node)) return;
    stack.push(node); onStack.add(node);
    for (const next of graph.get(node) ?? []) visit(next);
    stack.pop(); onStack.delete(node); done.add(node);
  };
  for (const node of graph.keys()) visit(node);
  return found;
}

/** The sink a file belongs to: its folder under src/sinks/ (sinks/ws/…) or its own name. */
function sinkOf(f: string): string | undefined {
  if (!f.startsWith('sinks/') || SINK_PLUMBING.has(f)) return undefined;
  return f.split('/')[1].replace(/\.ts$/, '');
}

describe('import graph', () => {
  it('no source file is over 300 lines (split rather than grow)', () => {
    const long = [...graph.keys()].filter((f) => readFileSync(join(SRC, f), 'utf8').split('\n').length > 301);
    expect(long).toEqual([]);
  });

  it('sees the source', () => {
    expect(graph.get('cli.ts')).toContain('tracer.ts');
  });

  it('src/ shows the stages: a folder each, the entry points and the pipeline at the top (docs/ARCHITECTURE.md)', () => {
    const top = readdirSync(SRC).sort();
    expect(top).toEqual(['cli.ts', 'command', 'decode', 'derive', 'enrich', 'filter', 'format', 'http', 'index.ts', 'native', 'pipeline.ts', 'probe', 'sinks', 'source', 'status.ts', 'tracer.ts', 'util']);
  });

  it('has no cycles', () => {
    expect(cycles().map((c) => c.join(' -> '))).toEqual([]);
  });

  it('no sink imports another sink', () => {
    const crossings = [...graph].flatMap(([file, deps]) =>
      sinkOf(file) ? deps.filter((d) => sinkOf(d) && sinkOf(d) !== sinkOf(file)).map((d) => `${file} -> ${d}`) : []);
    expect(crossings).toEqual([]);
  });

  it('no sink imports the Tracer (sinks get a TracerStatus)', () => {
    const seen = [...graph].flatMap(([file, deps]) => file.startsWith('sinks/') && deps.includes('tracer.ts') ? [file] : []);
    expect(seen).toEqual([]);
  });

  it('--otlp never loads prom-client (the metric catalogue is apart from the Prometheus sink)', () => {
    const reached = new Set<string>();
    const walk = (f: string): void => {
      if (reached.has(f)) return;
      reached.add(f);
      for (const d of graph.get(f) ?? []) walk(d);
    };
    walk('sinks/otlp.ts');
    expect([...reached].filter((f) => /from\s*['"]prom-client['"]/.test(readFileSync(join(SRC, f), 'utf8')))).toEqual([]);
  });

  it('no sink sees the CLI\'s Plan: each gets its own typed options (made in command/sink-options.ts)', () => {
    const seen = [...graph].flatMap(([file, deps]) => file.startsWith('sinks/') && deps.some((d) => d.startsWith('command/')) ? [file] : []);
    expect(seen).toEqual([]);
  });

  it('only the CLI reaches into src/sinks/ from outside it (the Sink contract, sinks/sink.ts, is for all)', () => {
    const CLI = new Set(['cli.ts', 'command/sink-options.ts']);
    const reaches = [...graph].flatMap(([file, deps]) =>
      !file.startsWith('sinks/') && !CLI.has(file) ? deps.filter((d) => d.startsWith('sinks/') && d !== 'sinks/sink.ts').map((d) => `${file} -> ${d}`) : []);
    expect(reaches).toEqual([]);
  });
});
