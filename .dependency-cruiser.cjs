// Layering rules the build checks (issue 11): imports point one way,
// core <- ports <- services <- adapters/xrpc <- composition root / cli.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core imports only core, generated lexicons and pure libraries (no I/O, no Node built-ins).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/', '^src/lexicons/', '^src/errors\\.ts$', 'node_modules/@noble/hashes/', 'node_modules/cron-parser/'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'ports-are-types',
      comment: 'ports are small interfaces in core types.',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { pathNot: ['^src/core/', '^src/ports/'] },
    },
    {
      name: 'services-through-ports',
      comment: 'services reach the world only through ports: never adapters, xrpc, the client, the peer or the composition roots.',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: ['^src/adapters/', '^src/xrpc/', '^src/client/', '^src/context\\.ts$', '^src/meshlet\\.ts$', '^src/peer/', '^src/cli\\.ts$', '^src/devnet/'] },
    },
    {
      name: 'peer-through-ports',
      comment: 'meshlet.ts wires services over ports (peer/: its startup, stop, event routes); adapters are chosen by the composition root (context.ts), so tests can swap them.',
      severity: 'error',
      from: { path: ['^src/meshlet\\.ts$', '^src/peer/'] },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'adapters-never-services',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: ['^src/services/', '^src/xrpc/', '^src/client/', '^src/context\\.ts$', '^src/meshlet\\.ts$', '^src/peer/'] },
    },
    {
      name: 'xrpc-through-services',
      comment: 'XRPC handlers call services (and the auth adapter), not the runtime adapters directly.',
      severity: 'error',
      from: { path: '^src/xrpc/' },
      to: { path: ['^src/adapters/docker/', '^src/adapters/host/', '^src/adapters/store/', '^src/client/'] },
    },
    { name: 'no-circular', severity: 'error', from: { path: '^src/' }, to: { circular: true, dependencyTypesNot: ['type-only'] } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs'] },
  },
}
