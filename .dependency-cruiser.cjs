/**
 * The import check (`npm run lint:imports`, run by .ci/run): the layers of docs/architecture.md,
 * for the layout the code is moving to (issue 10). Layers point down only:
 *   entry points  src/cli, src/index.ts, src/demo, src/console, jobs/ (the worker), bin/
 *   application   src/app
 *   services      src/sync, src/onboarding, src/credentials, src/queue (BullMQ producer side),
 *                 src/appstore, src/simulator and every new concern folder
 *   data access   the store/queries modules inside those folders
 *   schema        db/
 *   pure domain   src/catalog (no db, no I/O)
 *   bottom        src/config, src/errors.ts, src/log, src/startup: usable by all, importing none of the above
 * test/ is not checked: tests may reach anything.
 * The rule "no-folder-cycles" (no cycle between src/<folder>, src/<file>.ts, jobs, db, bin) is
 * computed by scripts/check-imports.ts, which runs these rules: use `npm run lint:imports`.
 * test/unit/architecture/imports.test.ts proves that each rule fires on a fixture tree.
 */

/** Units that must not form a cycle: each src/<folder>, src/<file>.ts, jobs, db. */
const UNIT = '^(src/[^/]+|jobs|db|bin)';
const ENTRY_POINTS = '^(src/(cli|demo|console|http)/|src/index\\.ts$|bin/)';
const BOTTOM = '^(src/(config|log|time|database|format|startup)/|src/errors\\.ts$)';
const IO_CORE_MODULES =
  '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|cluster|dgram|dns|dns/promises|tls|worker_threads|readline|repl|inspector|v8|vm|os|process)$';
const IO_PACKAGES =
  '^node_modules/(postgres|ioredis|bullmq|got|drizzle-orm|drizzle-kit|@electric-sql|pino|express|prom-client)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles-across-folders',
      comment: 'A module cycle that leaves its folder: the folders depend on each other both ways.',
      severity: 'error',
      from: { path: `${UNIT}(/|$)` },
      to: { circular: true, via: { pathNot: '^$1(/|$)' } },
    },
    {
      name: 'catalog-is-pure',
      comment:
        'src/catalog is the domain: data in, data out. No database (not even db/schema.ts for types), ' +
        'no App Store client, no sync, queue or worker, no I/O module.',
      severity: 'error',
      from: { path: '^src/catalog/' },
      to: {
        path: `^(db|jobs|src/(app|appstore|sync|queue|onboarding|credentials|simulator|cli|demo|console))/|^src/index\\.ts$|${IO_CORE_MODULES}|${IO_PACKAGES}`,
      },
    },
    {
      name: 'only-entry-points-import-jobs',
      comment:
        'jobs/ is the worker, an entry point: the rest of src/ reaches the queue through src/queue ' +
        '(producer and contract), never through the worker.',
      severity: 'error',
      from: { path: '^src/', pathNot: ENTRY_POINTS },
      to: { path: '^jobs/' },
    },
    {
      name: 'entry-points-start-the-worker-only',
      comment:
        'An entry point may start the worker (jobs/main.ts, or the group: jobs/supervisor.ts) and nothing else of jobs/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^jobs/', pathNot: '^jobs/(main|supervisor)\\.ts$' },
    },
    {
      name: 'cli-loads-the-worker-lazily',
      comment:
        'The CLI imports the worker with import() in the worker command, so other commands do not load BullMQ.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^jobs/(main|supervisor)\\.ts$', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'jobs-reach-src-through-app',
      comment:
        'The worker (jobs/) is the BullMQ mapping and the supervisor: it reaches src/ through src/app (the job ' +
        'table and the background work), and otherwise only what it needs to start: the config, the log, the ' +
        'errors, the queue contract and connection, the start-up hook, and the HTTP app (src/http) and console it ' +
        'serves. So a job is ' +
        'followed from the queue to the operation in two files.',
      severity: 'error',
      from: { path: '^jobs/' },
      to: {
        path: '^src/',
        pathNot:
          '^src/(app|config|log|startup|console|http)/|^src/errors\\.ts$|^src/queue/(contract|queue|redis)\\.ts$',
      },
    },
    {
      name: 'app-not-to-worker-or-cli',
      comment: 'The application layer is called by the entry points; it never calls them.',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^(jobs|src/cli)/' },
    },
    {
      name: 'services-not-to-app',
      comment: 'Services sit below the application layer.',
      severity: 'error',
      from: { path: '^(src/|db/)', pathNot: `^src/app/|${ENTRY_POINTS}` },
      to: { path: '^src/app/' },
    },
    {
      name: 'db-imports-no-application-code',
      comment:
        'db/ (schema, client, migrations) is the bottom of the data layer; it takes only the pure ' +
        "domain's vocabulary (src/catalog/vocabulary.ts), which imports nothing.",
      severity: 'error',
      from: { path: '^db/' },
      to: { path: '^(src|jobs)/', pathNot: '^src/catalog/vocabulary\\.ts$' },
    },
    {
      name: 'bottom-layer-imports-nothing-above',
      comment: 'src/config, src/errors.ts and src/log are used by every layer, so they import none.',
      severity: 'error',
      from: { path: BOTTOM },
      to: { path: '^(src|jobs|db)/', pathNot: BOTTOM },
    },
    {
      name: 'no-importing-entry-points',
      // The demo's import of src/index.ts is allowed: see the-demo-uses-the-public-api.
      comment:
        'src/cli, src/demo and src/index.ts are entry points: only bin/ and tests import them ' +
        '(each may import its own files).',
      severity: 'error',
      from: { path: '^(src/[^/]+|[^/]+)', pathNot: '^(bin|test|src/demo)/' },
      to: { path: '^(src/(cli|demo)/|src/index\\.ts$)', pathNot: '^$1(/|$)' },
    },
    {
      name: 'console-mounted-by-entry-points',
      comment:
        'src/console is the operator console (HTTP pages over src/app): the worker (jobs/) and the CLI mount ' +
        'it; nothing below them imports it.',
      severity: 'error',
      from: { path: '^(src|db)/', pathNot: '^src/(cli|console)/' },
      to: { path: '^src/console/' },
    },
    {
      name: 'the-demo-uses-the-public-api',
      comment:
        "The demo shows the platform's side through the public API (src/index.ts), as the platform would; " +
        'that is the one entry point it may import.',
      severity: 'error',
      from: { path: '^src/demo/' },
      to: { path: '^(src/(cli|console)/)' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: { path: ['^(src|jobs|db|bin)/', 'node_modules', '^(node:)?[a-z_/]+$'] },
    exclude: { path: ['^db/migrations/', '^dist/'] },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
