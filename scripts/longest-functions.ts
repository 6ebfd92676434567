/**
 * `node scripts/longest-functions.ts [--top N] [folder…]`: the longest functions, by lines from the
 * first line of the declaration to its closing brace, in the TypeScript files under the folders
 * (default src, bots, engine/src), read with the TypeScript compiler API. One line each:
 * `lines  name  file:line`. A nested function counts on its own and inside its parent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';

interface FunctionLength {
  readonly lines: number;
  readonly name: string;
  readonly where: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => path.join(e.parentPath, e.name));
}

function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText();
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText().slice(0, 40)})`;
  return '(anonymous)';
}

export function functionLengths(file: string): FunctionLength[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(fn.getEnd()).line;
      found.push({ lines: last - first + 1, name: nameOf(fn), where: `${file}:${first + 1}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '10' } },
    allowPositionals: true,
  });
  const folders = positionals.length ? positionals : ['src', 'bots', 'engine/src'];
  const all = folders.flatMap(tsFiles).flatMap(functionLengths);
  all.sort((a, b) => b.lines - a.lines || a.where.localeCompare(b.where));
  const rows = all.slice(0, Number(values.top)).map((f) => `${f.lines}\t${f.name}\t${f.where}\n`);
  process.stdout.write(rows.join(''));
}
