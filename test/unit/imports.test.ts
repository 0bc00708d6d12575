// The house rules (docs/ARCHITECTURE.md): the source's import graph has no cycles (type-only
// imports included, so the layering stays readable), a sink never imports another sink, and no
// sink sees the Tracer; no file a person maintains is over 300 lines, in any language; the
// record's layout and the CLI's option list exist once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCommand } from '../../src/command/options';
import { EventOffset } from '../../src/decode/record.generated';

const ROOT = resolve(__dirname, '../..');
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

/** Files under `dir` (repository-relative) whose names end with one of `exts`. */
function filesIn(dir: string, exts: string[]): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return filesIn(path, exts);
    return exts.some((e) => name.endsWith(e)) ? [path] : [];
  });
}

/** The source files people write and read: every language but what a generator wrote. */
function maintained(): string[] {
  return [...filesIn('src', ['.ts', '.cc', '.h']), ...filesIn('bpf', ['.c', '.h']), ...filesIn('web', ['.js']), 'bin/tcptrace']
    .filter((f) => !f.endsWith('.generated.ts'));
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
  it('no file a person maintains is over 300 lines, in any language: TS, C/C++, BPF C, the dashboard (split by responsibility rather than grow)', () => {
    const long = maintained().filter((f) => readFileSync(join(ROOT, f), 'utf8').replace(/\n$/, '').split('\n').length > 300);
    expect(long).toEqual([]);
  });

  it('sees the source', () => {
    expect(graph.get('cli.ts')).toContain('tracer.ts');
  });

  it('src/ shows the stages: a folder each, the entry points and the pipeline at the top (docs/ARCHITECTURE.md)', () => {
    const top = readdirSync(SRC).sort();
    expect(top).toEqual(['census', 'cli.ts', 'command', 'decode', 'derive', 'enrich', 'filter', 'format', 'http', 'index.ts', 'native', 'pipeline.ts', 'probe', 'sinks', 'source', 'status.ts', 'tracer.ts', 'util']);
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

describe('one copy of what one place knows', () => {
  const product = [...maintained(), ...filesIn('bench', ['.js', '.c']), ...filesIn('scripts', ['.js'])];

  it('the record layout is generated (src/decode/record.generated.ts), not restated: no other file pairs its members with their offsets', () => {
    const names = new Map<string, number>();
    for (const [member, offset] of Object.entries(EventOffset)) {
      names.set(member, offset);
      names.set(member.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), offset);
    }
    const copies = product.filter((f) => {
      const text = readFileSync(join(ROOT, f), 'utf8');
      const pairs = [...text.matchAll(/\b(\w+)['"]?\s*[:=]\s*(\d+)\b/g)].filter((m) => names.get(m[1]) === Number(m[2]) && Number(m[2]) > 8);
      return new Set(pairs.map((m) => m[1])).size >= 3 || /offsetof\(struct tcptrace_event/.test(text);
    });
    expect(copies).toEqual([]);
  });

  it('the CLI\'s options are listed once (src/command/options.ts): no other file of the product (src/, bin/, web/) holds a list of its flags', () => {
    const flags = new Set(buildCommand().options.flatMap((o) => [o.short, o.long]).filter((f): f is string => Boolean(f)));
    const lists = maintained().filter((f) => !f.startsWith('src/command/')).filter((f) => {
      const quoted = [...readFileSync(join(ROOT, f), 'utf8').matchAll(/['"](-{1,2}[\w-]+)['"]/g)].map((m) => m[1]);
      return new Set(quoted.filter((q) => flags.has(q))).size >= 4;
    });
    expect(lists).toEqual([]);
  });
});
