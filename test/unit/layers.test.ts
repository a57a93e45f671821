/**
 * The architecture as a test: src/ is a stack of layers (README "Layout"). Every import of every
 * src/**\/*.ts file (static, `import type`, `export … from`, `import('…')`, type-position
 * `import('…').T`) is read with the TypeScript parser and checked for
 *   (a) file-level import cycles, (b) cycles among src's top-level folders,
 *   (c) CLI files reaching past src/index.ts, (d) imports that go up the layer order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * Highest layer first; a file may import its own layer or any layer below it, never above.
 * `leaf` (file system helpers, errors, logger) sits under everything and imports no layer.
 */
const LAYERS: ReadonlyArray<{ name: string; paths: readonly string[] }> = [
  { name: 'cli', paths: ['cli/'] },
  { name: 'index', paths: ['index.ts'] },
  { name: 'ops', paths: ['ops/'] },
  { name: 'run', paths: ['run/'] },
  { name: 'engine', paths: ['engine/'] },
  { name: 'endpoints', paths: ['endpoints/'] },
  { name: 'config', paths: ['config/'] },
  { name: 'leaf', paths: ['fs/', 'errors.ts', 'logger.ts'] },
];

/** What the CLI may import besides its own files: the public API only. */
const CLI_MAY_IMPORT = ['index.ts'];

type Graph = ReadonlyMap<string, readonly string[]>;

/** Every .ts file under `dir`, as a path relative to SRC with '/' separators. */
function sourceFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(full));
    else if (e.name.endsWith('.ts')) out.push(path.relative(SRC, full).split(path.sep).join('/'));
  }
  return out.sort();
}

/** Module specifiers a file names: import/export declarations, import() calls and import types. */
function specifiers(text: string, fileName = 'x.ts'): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The src file a relative specifier names ('./x.js' is the TypeScript source './x.ts'). */
function resolve(from: string, spec: string, known: ReadonlySet<string>): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`, base];
  return candidates.find((c) => known.has(c));
}

interface Edge { from: string; to: string }

function readGraph(): { files: string[]; edges: Edge[]; unresolved: string[] } {
  const files = sourceFiles();
  const known = new Set(files);
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(fs.readFileSync(path.join(SRC, file), 'utf8'), file)) {
      if (!spec.startsWith('.')) continue; // packages and node: built-ins
      const to = resolve(file, spec, known);
      if (to === undefined) unresolved.push(`${file}: '${spec}'`);
      else if (!edges.some((e) => e.from === file && e.to === to)) edges.push({ from: file, to });
    }
  }
  return { files, edges, unresolved };
}

function toGraph(nodes: Iterable<string>, edges: Iterable<Edge>): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const n of nodes) g.set(n, []);
  for (const { from, to } of edges) {
    const next = g.get(from) ?? [];
    if (!next.includes(to)) next.push(to);
    g.set(from, next);
    if (!g.has(to)) g.set(to, []);
  }
  return g;
}

/** Strongly connected components (Tarjan) with more than one node, or a node importing itself. */
function tangles(g: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
    if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of g.keys()) if (!index.has(v)) connect(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The shortest import path from `start` back to itself (breadth-first), e.g. [a, b, a]. */
function shortestCycle(g: Graph, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [...(g.get(start) ?? [])];
  for (const n of queue) prev.set(n, start);
  while (queue.length > 0) {
    const v = queue.shift()!;
    if (v === start) break;
    for (const w of g.get(v) ?? []) if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
  }
  if (!prev.has(start)) return [];
  const cycle = [start];
  for (let v = prev.get(start)!; v !== start; v = prev.get(v)!) cycle.unshift(v);
  return [start, ...cycle];
}

/** Every cycle group, named by its members and one concrete cycle through its first member. */
function findCycles(g: Graph): string[] {
  return tangles(g).map((scc) => `{${scc.join(', ')}}: ${shortestCycle(g, scc[0]!).join(' → ')}`);
}

function layerOf(file: string): number {
  return LAYERS.findIndex((l) => l.paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

/** An import that reaches a layer above the importer's own. */
function upward(e: Edge): boolean {
  return layerOf(e.from) >= 0 && layerOf(e.to) >= 0 && layerOf(e.to) < layerOf(e.from);
}

const topFolder = (file: string): string => file.split('/')[0]!;

const graph = readGraph();
const fileGraph = toGraph(graph.files, graph.edges);
const folderEdges = graph.edges.filter((e) => topFolder(e.from) !== topFolder(e.to))
  .map((e) => ({ from: topFolder(e.from), to: topFolder(e.to) }));
const show = (e: Edge): string => `${e.from} → ${e.to}`;

describe('the cycle finder (self-test)', () => {
  it('names a cycle and ignores what only leads into it', () => {
    const g = toGraph([], [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'd', to: 'a' }]);
    expect(findCycles(g)).toEqual(['{a, b, c}: a → b → c → a']);
  });
  it('finds none in a diamond, and a self-import is a cycle', () => {
    const diamond = [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'd' }, { from: 'c', to: 'd' }];
    expect(findCycles(toGraph([], diamond))).toEqual([]);
    expect(findCycles(toGraph([], [{ from: 'x', to: 'x' }]))).toEqual(['{x}: x → x']);
  });
  it('reads every kind of import, type-only ones included', () => {
    const text = [
      "import a from './a.js';", "import type { B } from './b.js';", "export { c } from './c.js';",
      "export * from './d.js';", "const e = await import('./e.js');", "let f: import('./f.js').F;",
      "import './g.js';", "import {\n  h,\n} from './h.js';",
    ].join('\n');
    expect(specifiers(text)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js']);
  });
});

describe('src/ layers', () => {
  it('every relative import names a file in src/', () => {
    expect(graph.unresolved).toEqual([]);
  });

  it('every file belongs to a declared layer', () => {
    expect(graph.files.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('(a) no file-level import cycle', () => {
    expect(findCycles(fileGraph)).toEqual([]);
  });

  it('(b) no cycle among the top-level folders', () => {
    expect(findCycles(toGraph([], folderEdges))).toEqual([]);
  });

  it('(c) the CLI reaches the library only through src/index.ts', () => {
    const bypass = graph.edges.filter((e) => e.from.startsWith('cli/') && !e.to.startsWith('cli/') && !CLI_MAY_IMPORT.includes(e.to));
    expect(bypass.map(show)).toEqual([]);
  });

  it('(d) no import goes up the layer order', () => {
    const up = graph.edges.filter(upward).map((e) => `${show(e)} (${LAYERS[layerOf(e.from)]!.name} → ${LAYERS[layerOf(e.to)]!.name})`);
    expect(up).toEqual([]);
  });
});
