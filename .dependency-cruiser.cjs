// @ts-check
/**
 * The direction imports may run (STYLE.md §16, README "Layout"): the folders in the order a request
 * travels, each importing only its own layer and those below it; and no import cycles. Run by
 * `npm run lint` (depcruise), as eslint's rule keeps I/O out of jobs/.
 */

/** Top to bottom. A module may import its own layer and any layer below it, never one above. */
const layers = [
  { name: 'front ends', paths: ['^src/cli/', '^src/slack/', '^src/observability/dashboard'] },
  { name: 'requests', paths: ['^src/requests/', '^src/plan\\.ts$', '^src/commands/'] },
  { name: 'queue and records', paths: ['^src/queue/', '^src/approvals/', '^src/audit/'] },
  { name: 'telemetry', paths: ['^src/observability/(metrics|server)\\.ts$'] },
  { name: 'operations', paths: ['^jobs/', '^src/operations/', '^src/status/'] },
  { name: 'steps', paths: ['^src/steps/', '^src/gates/', '^src/state/'] },
  { name: 'rabbit', paths: ['^src/rabbit/'] },
  { name: 'ssh', paths: ['^src/ssh/'] },
  { name: 'config', paths: ['^src/config/'] },
  { name: 'base', paths: ['^src/errors(\\.ts$|/)', '^src/log/', '^src/untrusted-text\\.ts$'] },
];

const upward = layers.slice(1).map((layer, index) => ({
  name: `no-import-above:${layer.name}`,
  comment: `${layer.name} imports only its own layer and those below it (${
    layers
      .slice(index + 2)
      .map((l) => l.name)
      .join(', ') || 'none'
  })`,
  severity: /** @type {const} */ ('error'),
  from: { path: layer.paths },
  to: { path: layers.slice(0, index + 1).flatMap((l) => l.paths) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-registry-below-the-entry-points',
      comment:
        'The worker and the runner are given the operations (jobs/index.ts) by ' +
        'the process that starts them; below the front ends and requests ' +
        'nothing imports jobs/.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli/', '^src/slack/', '^src/requests/', '^src/plan\\.ts$'] },
      to: { path: '^jobs/' },
    },
    {
      name: 'no-unlisted-src',
      comment: 'Every folder of src/ has a layer above; a new one is placed there first.',
      severity: 'error',
      from: { path: '^src/', pathNot: layers.flatMap((l) => l.paths) },
      to: {},
    },
    {
      name: 'no-tests-or-tools-from-the-program',
      comment: 'src/ and jobs/ ship: they import neither tests, tools, benchmarks nor scripts.',
      severity: 'error',
      from: { path: ['^src/', '^jobs/'] },
      to: { path: ['^test/', '^tools/', '^bench/', '^scripts/'] },
    },
    {
      name: 'no-tests-from-tools-bench-demo',
      comment:
        'The lab and the Slack emulator are tools (tools/): benchmarks, the ' +
        'demo and the tools themselves never import from test/.',
      severity: 'error',
      from: { path: ['^tools/', '^bench/', '^scripts/'] },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles (STYLE.md §14).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^node_modules/', '^coverage/'] },
    // Type-only imports count: a type from a layer above couples as much as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
