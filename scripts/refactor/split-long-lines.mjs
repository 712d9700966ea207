// Splits string and template literals, and comments, on lines over the width, so that the
// formatter can lay the pieces out within it. Run after prettier, then run prettier again.
// Usage: node split-long-lines.mjs <width> <file...>
import { readFileSync, writeFileSync } from 'node:fs';
import ts from 'typescript';

const width = Number(process.argv[2]);
const files = process.argv.slice(3);
const pieceWidth = Math.max(40, width - 50);

function packAtoms(atoms, limit) {
  const chunks = [];
  let current = '';
  for (const atom of atoms) {
    if (current.length > 0 && current.length + atom.length > limit) {
      chunks.push(current);
      current = '';
    }
    current += atom;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Words with their trailing spaces, so joining the pieces gives back the text exactly. */
function wordAtoms(text) {
  return text.match(/[^ ]+ *| +/g) ?? [];
}

function lineOf(sf, pos) {
  return sf.getLineAndCharacterOfPosition(pos).line;
}

function splitFile(path) {
  const source = readFileSync(path, 'utf8');
  const sf = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines = source.split('\n');
  const longLines = new Set(lines.flatMap((l, i) => (l.length > width ? [i] : [])));
  if (longLines.size === 0) return 0;
  const edits = [];
  function visit(node) {
    const start = node.getStart(sf);
    const touchesLong = () => {
      for (let l = lineOf(sf, start); l <= lineOf(sf, node.end); l++) if (longLines.has(l)) return true;
      return false;
    };
    const parent = node.parent;
    const literalTypeContext =
      parent &&
      (ts.isLiteralTypeNode(parent) ||
        ts.isImportDeclaration(parent) ||
        ts.isExportDeclaration(parent) ||
        ts.isExternalModuleReference(parent) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        ts.isPropertySignature(parent) ||
        ts.isElementAccessExpression(parent) ||
        ts.isCaseClause(parent) ||
        ts.isImportTypeNode?.(parent));
    if (ts.isStringLiteral(node) && !literalTypeContext && touchesLong() && node.end - start > pieceWidth) {
      const raw = source.slice(start + 1, node.end - 1);
      const quote = source[start];
      const chunks = packAtoms(wordAtoms(raw), pieceWidth);
      if (chunks.length > 1)
        edits.push({ start, end: node.end, text: '(' + chunks.map((c) => quote + c + quote).join(' + ') + ')' });
      return;
    }
    if (
      (ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) &&
      !(parent && ts.isTaggedTemplateExpression(parent)) &&
      !literalTypeContext &&
      touchesLong() &&
      node.end - start > pieceWidth
    ) {
      // Atoms: words of the static text, and each ${...} whole.
      const atoms = [];
      if (ts.isNoSubstitutionTemplateLiteral(node)) {
        const raw = source.slice(start + 1, node.end - 1);
        if (raw.includes('\n')) return;
        atoms.push(...wordAtoms(raw));
      } else {
        const headRaw = source.slice(start + 1, node.head.end - 2);
        if (source.slice(start, node.end).includes('\n')) return;
        atoms.push(...wordAtoms(headRaw));
        for (const span of node.templateSpans) {
          const exprText = source.slice(span.expression.getStart(sf) - 2, span.literal.getStart(sf) + 1);
          // exprText is "${expr}" : from the '${' before the expression to the '}' that starts the literal.
          const lit = span.literal;
          const litStart = lit.getStart(sf) + 1;
          const litEnd = ts.isTemplateTail(lit) ? lit.end - 1 : lit.end - 2;
          const litRaw = source.slice(litStart, litEnd);
          const words = wordAtoms(litRaw);
          // Keep the expression glued to the text that follows without a space.
          if (words.length > 0 && !words[0].startsWith(' ')) atoms.push(exprText + words.shift());
          else atoms.push(exprText);
          atoms.push(...words);
        }
      }
      const chunks = packAtoms(atoms, pieceWidth);
      if (chunks.length > 1)
        edits.push({ start, end: node.end, text: '(' + chunks.map((c) => '`' + c + '`').join(' + ') + ')' });
      return;
    }
    ts.forEachChild(node, visit);
  }
  visit(sf);
  let out = source;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  // Comments that are a line of their own.
  const outLines = out.split('\n').flatMap((line) => {
    if (line.length <= width) return [line];
    const m = line.match(/^(\s*)(\/\/ |\* |\/\*\* )(.*)$/);
    if (!m) return [line];
    const [, indent, marker, text] = m;
    if (marker === '/** ' && text.endsWith('*/')) {
      const body = text.slice(0, -2).trimEnd();
      const chunks = packAtoms(wordAtoms(body), width - indent.length - 3).map((c) => c.trimEnd());
      return [indent + '/**', ...chunks.map((c) => indent + ' * ' + c), indent + ' */'];
    }
    const chunks = packAtoms(wordAtoms(text), width - indent.length - marker.length).map((c) => c.trimEnd());
    return chunks.map((c) => indent + marker + c);
  });
  out = outLines.join('\n');
  if (out !== source) writeFileSync(path, out);
  return edits.length;
}

let total = 0;
for (const f of files) total += splitFile(f);
console.log(`split ${total} literals`);
