// Rewrites relative imports for the vocabulary and tools moves (issue 10, item 3). Runs BEFORE the
// git mv (vocab-move.sh): each file is read where it is, so its imports resolve without guessing,
// and written with the specifiers it needs from where it is going. Imports of a moved file follow
// it; names that left src/queue/schema.ts are imported from their new home, one declaration per
// module. Idempotent: a tree already rewritten and moved is left as it is.
// Usage: node scripts/refactor/vocab-imports.mjs (from the repository root).
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';

const root = process.cwd();

/** Moved files: old repository path -> new one (vocab-moves.txt, shared with vocab-move.sh). */
const moved = new Map(
  readFileSync(new URL('./vocab-moves.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'))
    .map((line) => line.trim().split(/\s+/)),
);

/**
 * Names that moved out of a module: module -> name -> [new module, new name]. Unlisted names of a split module go to
 * its default.
 */
const OPS = 'src/operations/schema.ts';
const PROGRESS = 'src/operations/progress.ts';
const STEPS = 'src/steps/schema.ts';
const GATES = 'src/gates/schema.ts';
const HEALTH = 'src/rabbit/cluster-status.ts';
const split = {
  'src/queue/schema.ts': {
    default: OPS,
    names: {
      StepState: [STEPS],
      JobOptions: [STEPS],
      DESTRUCTIVE_OPERATIONS: [GATES],
      DestructiveOperation: [GATES],
      ProgressEvent: [PROGRESS],
      StepEvent: [PROGRESS],
      JobEvent: [PROGRESS],
      QUEUE_NAME: ['src/queue/queue.ts'],
      dedupId: ['src/queue/queue.ts'],
      eventsKey: ['src/queue/events.ts'],
      ClusterHealthSchema: [HEALTH, 'ClusterHealth'],
    },
  },
};

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(join(root, dir))) {
    const path = posix.join(dir, entry);
    if (['node_modules', 'dist', 'coverage', '.git'].includes(entry)) continue;
    if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const toTs = (path) => path.replace(/\.js$/, '.ts');
/** The repository path a relative specifier names, seen from `fromFile`. */
const resolveFrom = (fromFile, spec) => toTs(posix.normalize(posix.join(posix.dirname(fromFile), spec)));
function specifierFor(fromFile, target) {
  let spec = posix.relative(posix.dirname(fromFile), target).replace(/\.ts$/, '.js');
  if (!spec.startsWith('.')) spec = `./${spec}`;
  return spec;
}

/** Where a relative import of `file` points once the moves are done. */
const targetOf = (file, spec) => {
  const target = resolveFrom(file, spec);
  return moved.get(target) ?? target;
};

let changedFiles = 0;
const dirs = ['src', 'jobs', 'test', 'bench', 'tools', 'scripts'].filter((d) => existsSync(join(root, d)));
for (const file of dirs.flatMap(sourceFiles)) {
  const text = readFileSync(join(root, file), 'utf8');
  const future = moved.get(file) ?? file;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edits = [];
  const renames = new Map();
  const visit = (node) => {
    const isDecl = ts.isImportDeclaration(node) || ts.isExportDeclaration(node);
    const isDynamic =
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isPropertyAccessExpression(node.expression) && node.expression.getText() === 'vi.mock')) &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0]);
    const literal = isDecl ? node.moduleSpecifier : isDynamic ? node.arguments[0] : undefined;
    if (literal && ts.isStringLiteral(literal) && literal.text.startsWith('.')) {
      const target = targetOf(file, literal.text);
      const plan = split[target];
      const clause = ts.isImportDeclaration(node) ? node.importClause : undefined;
      if (plan && clause?.namedBindings && ts.isNamedImports(clause.namedBindings) && !clause.name) {
        // One declaration per new home, keeping `import type` and inline `type` as they were.
        const byModule = new Map();
        for (const element of clause.namedBindings.elements) {
          const imported = (element.propertyName ?? element.name).text;
          const [module, newName = imported] = plan.names[imported] ?? [plan.default];
          if (module === future) continue; // the name now lives in this very file
          if (newName !== imported && !element.propertyName) renames.set(imported, newName);
          const local = element.propertyName ? ` as ${element.name.text}` : '';
          const typeOnly = clause.isTypeOnly || element.isTypeOnly;
          const key = `${module}\0${typeOnly}`;
          if (!byModule.has(key)) byModule.set(key, { module, typeOnly, names: [] });
          byModule.get(key).names.push(`${newName}${local}`);
        }
        const text = [...byModule.values()]
          .map(
            ({ module, typeOnly, names }) =>
              `import ${typeOnly ? 'type ' : ''}{ ${[...new Set(names)].join(', ')} ` +
              `} from '${specifierFor(future, module)}';`,
          )
          .join('\n');
        edits.push([node.getStart(), node.getEnd(), text]);
      } else if (!plan) {
        const spec = specifierFor(future, target);
        if (
          spec !== literal.text &&
          (existsSync(join(root, target)) || existsSync(join(root, resolveFrom(file, literal.text))))
        )
          edits.push([literal.getStart() + 1, literal.getEnd() - 1, spec]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (edits.length === 0) continue;
  let out = text;
  for (const [start, end, replacement] of edits.sort((a, b) => b[0] - a[0]))
    out = out.slice(0, start) + replacement + out.slice(end);
  for (const [from, to] of renames) out = out.replace(new RegExp(`\\b${from}\\b`, 'g'), to);
  out = dropTypeImportsShadowedByValues(out);
  if (out !== text) {
    writeFileSync(join(root, file), out);
    changedFiles++;
  }
}
console.log(`vocab-imports: ${changedFiles} files rewritten`);

/**
 * `import type { X }` beside `import { X }` from the same module (after a rename) is a duplicate: keep the value
 * import.
 */
function dropTypeImportsShadowedByValues(text) {
  const values = new Map();
  for (const m of text.matchAll(/^import \{ ([^}]*) \} from '([^']+)';$/gm))
    values.set(m[2], new Set(m[1].split(',').map((n) => n.trim())));
  return text.replace(/^import type \{ ([^}]*) \} from '([^']+)';\n/gm, (line, names, module) => {
    const shadow = values.get(module);
    if (!shadow) return line;
    const left = names
      .split(',')
      .map((n) => n.trim())
      .filter((n) => !shadow.has(n));
    return left.length === 0 ? '' : `import type { ${left.join(', ')} } from '${module}';\n`;
  });
}
