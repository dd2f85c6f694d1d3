import { authFailureMessage, forbiddenRoleMessage, noAppsMessage } from '../appstore/index.ts';
import { formatDuration as formatEvery } from '../time/duration.ts';
import type { Role } from './auth.ts';
import { type Html, html, query, type Renderable } from './html.ts';
import {
  type ProjectDetail,
  type ProjectListPage,
  type ProjectListQuery,
  type ProjectListRow,
  type ProjectSections,
  SECTION_LIMITS,
  type Section,
  type Sort,
} from './queries.ts';

/*
 * The console's pages: pure functions from data to HTML (escaped by `html`). No client-side
 * JavaScript; forms POST with the session's CSRF token in a hidden field.
 */

export const BASE = '/console';

export interface PageContext {
  role: Role | null;
  csrf: string | null;
  flash?: { kind: 'ok' | 'error'; text: string } | null;
}

/** What to do about a credential status (the stored detail says what Apple answered). */
export const CREDENTIAL_FIX: Record<string, string> = {
  unverified: 'Not verified yet: press "Verify credentials" (or run `catalog-sync verify <project>`).',
  valid: '',
  invalid: authFailureMessage,
  forbidden: `${forbiddenRoleMessage} If the detail mentions agreements, the Account Holder must accept them under Business.`,
  no_apps: `${noAppsMessage} Grant the key access to the app (or use an Admin key), then verify again.`,
  missing:
    'No key saved: run `catalog-sync credentials set <project> --key-id … --issuer-id … --private-key-file …`.',
};

const fmtDate = (date: Date | null | undefined) =>
  date
    ? date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '';

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function fmtCounts(counts: Record<string, number> | null | undefined): string {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'no changes' : entries.map(([key, n]) => `${key} ${n}`).join(', ');
}

export function describeSchedule(row: {
  scheduleEverySeconds: number | null;
  scheduleCron: string | null;
}): string {
  if (row.scheduleEverySeconds) return `every ${formatEvery(row.scheduleEverySeconds)}`;
  if (row.scheduleCron) return `cron ${row.scheduleCron} (UTC)`;
  return '';
}

const badge = (text: string, tone: string) => html`<span class="badge ${tone}">${text}</span>`;

function credentialBadge(status: string | null): Html {
  if (!status) return badge('no key', 'bad');
  const tone = status === 'valid' ? 'ok' : status === 'unverified' ? 'warn' : 'bad';
  return badge(status, tone);
}

function runBadge(status: string | null): Html {
  if (!status) return badge('never', 'muted');
  return badge(status, status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : 'warn');
}

export function layout(ctx: PageContext, title: string, body: Renderable): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · catalog-sync console</title>
<link rel="stylesheet" href="${BASE}/static/console.css">
</head>
<body>
<header class="top">
  <a class="brand" href="${BASE}/projects">catalog-sync</a>
  ${
    ctx.role
      ? html`<nav>
    <a href="${BASE}/projects">Projects</a>
    <a href="${BASE}/queues/">Queue</a>
  </nav>
  <form method="post" action="${BASE}/logout" class="logout">
    <span class="role">${ctx.role === 'write' ? 'operator' : 'read-only'}</span>
    <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
    <button type="submit">Log out</button>
  </form>`
      : ''
  }
</header>
<main>
${ctx.flash ? html`<p class="flash ${ctx.flash.kind}" role="status">${ctx.flash.text}</p>` : ''}
${body}
</main>
</body>
</html>`;
}

export function loginPage(ctx: PageContext, error: string | null): Html {
  return layout(
    ctx,
    'Log in',
    html`<section class="login">
  <h1>Operator console</h1>
  ${error ? html`<p class="flash error" role="alert">${error}</p>` : ''}
  <form method="post" action="${BASE}/login">
    <label for="token">Console token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Log in</button>
  </form>
  <p class="hint">The token is CONSOLE_TOKEN (operator) or CONSOLE_READ_TOKEN (read-only) from the worker's environment.</p>
</section>`,
  );
}

export function messagePage(ctx: PageContext, title: string, text: string): Html {
  return layout(
    ctx,
    title,
    html`<h1>${title}</h1><p>${text}</p><p><a href="${BASE}/projects">Projects</a></p>`,
  );
}

// ── Projects ─────────────────────────────────────────────────────────────────────────────────

const SORT_LABELS: Record<Sort, string> = {
  project: 'Project',
  app: 'App',
  credentials: 'Credentials',
  last_sync: 'Last sync',
  duration: 'Duration',
};

export interface ProjectsView {
  query: ProjectListQuery;
  page: ProjectListPage;
  /** Next run per scheduled project, from the queue (undefined: the queue could not be read). */
  nextRuns: Map<string, Date | null> | undefined;
  pageSize: number;
}

function listLink(q: ProjectListQuery, changes: Partial<ProjectListQuery>): string {
  const next = { ...q, ...changes };
  return `${BASE}/projects${query({
    q: next.search,
    failing: next.failingOnly ? '1' : undefined,
    sort: next.sort === 'project' ? undefined : next.sort,
    dir: next.direction === 'asc' ? undefined : next.direction,
    page: next.page > 1 ? next.page : undefined,
  })}`;
}

function sortHeader(q: ProjectListQuery, sort: Sort): Html {
  const active = q.sort === sort;
  const direction = active && q.direction === 'asc' ? 'desc' : 'asc';
  const arrow = active ? (q.direction === 'asc' ? ' ▲' : ' ▼') : '';
  return html`<th scope="col"${active ? html` aria-sort="${q.direction === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${listLink(q, { sort, direction, page: 1 })}">${SORT_LABELS[sort]}${arrow}</a></th>`;
}

function nextRunCell(row: ProjectListRow, nextRuns: ProjectsView['nextRuns']): Renderable {
  if (!row.scheduleEverySeconds && !row.scheduleCron) return html`<span class="muted">no schedule</span>`;
  const schedule = describeSchedule(row);
  if (!nextRuns) return html`${schedule}<br><span class="muted">queue unavailable</span>`;
  const next = nextRuns.get(row.id);
  return next
    ? html`${schedule}<br><span class="muted">next ${fmtDate(next)}</span>`
    : html`${schedule}<br><span class="warn-text">not in the queue yet</span>`;
}

function projectRow(row: ProjectListRow, nextRuns: ProjectsView['nextRuns']): Html {
  const credentialIssue = row.credentialStatus && row.credentialStatus !== 'valid';
  return html`<tr class="${row.failing ? 'failing' : ''}" data-project="${row.id}">
  <td><a href="${BASE}/projects/${encodeURIComponent(row.id)}">${row.id}</a></td>
  <td>${row.appStoreId ? html`${row.bundleId}<br><span class="muted">${row.appName} · ${row.appStoreId}</span>` : html`<span class="muted">no app selected</span>`}</td>
  <td>${credentialBadge(row.credentialStatus)}${credentialIssue || !row.credentialStatus ? html`<div class="fix">${CREDENTIAL_FIX[row.credentialStatus ?? 'missing']}</div>` : ''}</td>
  <td>${nextRunCell(row, nextRuns)}</td>
  <td>${runBadge(row.runStatus)} ${fmtDate(row.runStartedAt)}${
    row.runStatus === 'failed'
      ? html`<div class="error-text">${row.runErrorKind}: ${row.runErrorMessage}</div>`
      : row.runStatus
        ? html`<div class="muted">${fmtCounts(row.runCounts)}</div>`
        : ''
  }</td>
  <td class="num">${fmtDuration(row.runDurationMs)}</td>
</tr>`;
}

export function projectsPage(ctx: PageContext, view: ProjectsView): Html {
  const { query: q, page } = view;
  const pages = Math.max(1, Math.ceil(page.total / view.pageSize));
  const body = html`<h1>Projects</h1>
<form method="get" action="${BASE}/projects" class="search" role="search">
  <label for="q">Project, bundle id or app</label>
  <input id="q" name="q" type="search" value="${q.search ?? ''}" maxlength="200">
  <label class="inline"><input type="checkbox" name="failing" value="1"${q.failingOnly ? html` checked` : ''}> failing only</label>
  ${q.sort !== 'project' ? html`<input type="hidden" name="sort" value="${q.sort}">` : ''}
  ${q.direction !== 'asc' ? html`<input type="hidden" name="dir" value="${q.direction}">` : ''}
  <button type="submit">Search</button>
</form>
<p class="summary">${page.total} project${page.total === 1 ? '' : 's'}${q.search ? html` matching “${q.search}”` : ''}, <strong class="${page.failing > 0 ? 'error-text' : ''}">${page.failing} failing</strong> (listed first).</p>
<table class="projects">
<thead><tr>${sortHeader(q, 'project')}${sortHeader(q, 'app')}${sortHeader(q, 'credentials')}<th scope="col">Schedule</th>${sortHeader(q, 'last_sync')}${sortHeader(q, 'duration')}</tr></thead>
<tbody>
${page.rows.length === 0 ? html`<tr><td colspan="6" class="muted">No project matches.</td></tr>` : page.rows.map((row) => projectRow(row, view.nextRuns))}
</tbody>
</table>
<nav class="pager" aria-label="pages">
  ${q.page > 1 ? html`<a href="${listLink(q, { page: q.page - 1 })}" rel="prev">← Previous</a>` : ''}
  <span>Page ${q.page} of ${pages}</span>
  ${q.page < pages ? html`<a href="${listLink(q, { page: q.page + 1 })}" rel="next">Next →</a>` : ''}
</nav>`;
  return layout(ctx, 'Projects', body);
}

// ── One project ──────────────────────────────────────────────────────────────────────────────

function actionForm(
  ctx: PageContext,
  projectId: string,
  action: string,
  label: string,
  extra: Renderable = '',
): Html {
  return html`<form method="post" action="${BASE}/projects/${encodeURIComponent(projectId)}/${action}" class="action">
  <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
  ${extra}
  <button type="submit">${label}</button>
</form>`;
}

function actions(ctx: PageContext, detail: ProjectDetail): Html {
  if (ctx.role !== 'write') {
    return html`<p class="muted">Read-only session: actions need the operator token.</p>`;
  }
  const id = detail.project.id;
  const hasSchedule = detail.project.scheduleEverySeconds || detail.project.scheduleCron;
  return html`<section class="actions" aria-label="actions">
  ${actionForm(ctx, id, 'sync', 'Sync now')}
  ${actionForm(ctx, id, 'verify', 'Verify credentials')}
  ${actionForm(
    ctx,
    id,
    'schedule',
    'Set schedule',
    html`<label for="every">Every</label> <input id="every" name="every" placeholder="6h" size="6" maxlength="20">
  <label for="cron">or cron (UTC)</label> <input id="cron" name="cron" placeholder="0 */6 * * *" size="14" maxlength="100">`,
  )}
  ${hasSchedule ? actionForm(ctx, id, 'unschedule', 'Remove schedule') : ''}
</section>`;
}

/** What identifies an entity added or removed (its whole record is in `catalog-sync changes --json`). */
const SUMMARY_FIELDS = [
  'productId',
  'referenceName',
  'kind',
  'state',
  'optIn',
  'sandboxOptIn',
  'durationDays',
  'renewalType',
];

function jsonCell(value: Record<string, unknown> | null, fields: string[]): Html {
  if (!value) return html`<span class="muted">—</span>`;
  const shown =
    fields.length > 0 ? fields : SUMMARY_FIELDS.filter((f) => value[f] !== undefined && value[f] !== null);
  return html`<dl class="kv">${shown.map(
    (field) => html`<dt>${field}</dt><dd>${JSON.stringify(value[field] ?? null)}</dd>`,
  )}</dl>`;
}

/** A section's body, or the short message saying it could not be read. */
function sectionBody<T>(section: Section<T>, render: (data: T) => Renderable): Renderable {
  return section.ok ? render(section.data) : html`<p class="error-text">${section.error}</p>`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "Showing the first N of M; <how to see all>." when a list was cut. */
function moreNote(shown: number, total: number, what: string, command: string): Renderable {
  return total > shown
    ? html`<p class="muted more">Showing the first ${shown} of ${total} ${what}; ${total - shown} more: <code>${command}</code> lists them all.</p>`
    : '';
}

const amount = (value: string | null, currency: string | null) =>
  value === null ? html`<span class="muted">—</span>` : `${value}${currency ? ` ${currency}` : ''}`;

function pricesSection(projectId: string, section: ProjectSections['prices']): Html {
  return html`<section id="prices">
<h2>Prices</h2>
${sectionBody(section, ({ rows, total }) =>
  rows.length === 0
    ? html`<p class="muted">No prices stored yet: details are read after syncs, within the key's budget.</p>`
    : html`<p>${plural(total, 'price')} in force now (per product and territory).</p>
<table class="prices"><thead><tr><th>Product</th><th>Territory</th><th>Customer price</th><th>Proceeds</th><th>Proceeds, year 2</th><th>Since</th><th>Until</th></tr></thead><tbody>
${rows.map(
  (p) =>
    html`<tr class="price"><td>${p.productId}</td><td>${p.territory}</td><td class="num">${amount(p.customerPrice, p.currency)}</td><td class="num">${amount(p.proceeds, p.currency)}</td><td class="num">${amount(p.proceedsYear2, p.currency)}</td><td>${p.from ?? ''}</td><td>${p.until ?? ''}</td></tr>`,
)}
</tbody></table>
${moreNote(rows.length, total, 'prices', `catalog-sync prices ${projectId}`)}`,
)}
</section>`;
}

function offerDuration(o: { duration: string | null; numberOfPeriods: number | null }): string {
  if (!o.duration) return '';
  return o.numberOfPeriods && o.numberOfPeriods > 1
    ? `${o.numberOfPeriods} × ${o.duration.toLowerCase().replaceAll('_', ' ')}`
    : o.duration.toLowerCase().replaceAll('_', ' ');
}

function offersSection(projectId: string, section: ProjectSections['offers']): Html {
  return html`<section id="offers">
<h2>Offers</h2>
${sectionBody(section, ({ rows, total }) =>
  rows.length === 0
    ? html`<p class="muted">No offers stored yet: details are read after syncs, within the key's budget.</p>`
    : html`<p>${plural(total, 'offer')} (introductory, promotional, offer codes and others; removed ones marked).</p>
<table class="offers"><thead><tr><th>Product</th><th>Kind</th><th>Name</th><th>Mode</th><th>Duration</th><th>Territory</th><th>From</th><th>To</th><th>Priced in</th></tr></thead><tbody>
${rows.map(
  (o) =>
    html`<tr class="offer${o.removedAt ? ' removed' : ''}"><td>${o.productId}</td><td>${o.kind.replaceAll('_', ' ')}</td><td>${o.name ?? ''}${o.removedAt ? html` ${badge('removed', 'muted')}` : o.active === false ? html` ${badge('inactive', 'muted')}` : ''}</td><td>${(o.offerMode ?? '').toLowerCase().replaceAll('_', ' ')}</td><td>${offerDuration(o)}</td><td>${o.territory ?? ''}</td><td>${o.startDate ?? ''}</td><td>${o.endDate ?? ''}</td><td class="num">${plural(o.prices.length, 'territory', 'territories')}</td></tr>`,
)}
</tbody></table>
${moreNote(rows.length, total, 'offers', `catalog-sync offers ${projectId}`)}`,
)}
</section>`;
}

/** The territories, locales or offers an issue is about, cut to a readable few. */
function issueItems(items: string[]): string {
  const shown = items.slice(0, 12).join(', ');
  return items.length > 12 ? `${shown} and ${items.length - 12} more` : shown;
}

function healthSection(projectId: string, section: ProjectSections['health']): Html {
  return html`<section id="health">
<h2>Catalog health</h2>
${sectionBody(section, (health) => {
  const counted = Object.entries(health.counts).filter(([, n]) => n > 0);
  const shown = health.issues.slice(0, SECTION_LIMITS.issues);
  return html`<p class="health-summary">${
    health.issues.length === 0
      ? html`${badge('healthy', 'ok')} No issue found in the stored catalog.`
      : html`${badge(plural(health.issues.length, 'issue'), 'warn')} ${counted.map(([kind, n]) => `${kind.replaceAll('_', ' ')} ${n}`).join(', ')}.`
  } ${
    health.oldestDetailsReadAt
      ? `Oldest details read ${fmtDate(new Date(health.oldestDetailsReadAt))}`
      : 'Some products\u2019 details have not been read yet'
  }${health.staleProducts > 0 ? html`; <span class="warn-text">${plural(health.staleProducts, 'product')} with stale details</span>` : ''}.</p>
${
  shown.length === 0
    ? ''
    : html`<table class="issues"><thead><tr><th>Kind</th><th>Product</th><th>Detail</th><th>Concerns</th></tr></thead><tbody>
${shown.map(
  (i) =>
    html`<tr class="issue ${i.kind}"><td>${i.kind.replaceAll('_', ' ')}</td><td>${i.productId}</td><td>${i.message}</td><td>${issueItems(i.items)}</td></tr>`,
)}
</tbody></table>
${moreNote(shown.length, health.issues.length, 'issues', `catalog-sync health ${projectId}`)}`
}`;
})}
</section>`;
}

function deliveryBadge(status: string): Html {
  return badge(
    status,
    status === 'succeeded' ? 'ok' : status === 'pending' ? 'warn' : status === 'failed' ? 'bad' : 'muted',
  );
}

function deliveriesSection(projectId: string, section: ProjectSections['deliveries']): Html {
  return html`<section id="deliveries">
<h2>Webhook deliveries</h2>
${sectionBody(section, (rows) =>
  rows.length === 0
    ? html`<p class="muted">No webhook deliveries for this project yet: they are made when an endpoint listens to its events.</p>`
    : html`<p>The latest ${rows.length === 1 ? 'delivery' : `${rows.length} deliveries`}; <code>catalog-sync webhooks deliveries --project ${projectId}</code> lists more with their attempts.</p>
<table class="deliveries"><thead><tr><th>Created</th><th>Event</th><th>Endpoint</th><th>Status</th><th>Attempts</th><th>Last response</th></tr></thead><tbody>
${rows.map(
  (d) =>
    html`<tr class="delivery ${d.status}" data-delivery="${d.id}"><td>${fmtDate(new Date(d.createdAt))}</td><td>${d.eventType}</td><td>${d.endpointUrl ?? html`<span class="muted">${d.endpointId}</span>`}</td><td>${deliveryBadge(d.status)}${d.nextAttemptAt ? html`<div class="muted">next ${fmtDate(new Date(d.nextAttemptAt))}</div>` : ''}</td><td class="num">${d.attempts}</td><td>${d.lastStatusCode ?? ''}${d.lastError ? html`<div class="error-text">${d.lastError}</div>` : ''}</td></tr>`,
)}
</tbody></table>`,
)}
</section>`;
}

export function projectPage(
  ctx: PageContext,
  detail: ProjectDetail,
  sections: ProjectSections,
  nextRun: Date | null | undefined,
): Html {
  const { project, credentials, grace } = detail;
  const groupName = new Map(detail.groups.map((g) => [g.appleId, g.referenceName]));
  const byKind = new Map<string, typeof detail.products>();
  for (const p of detail.products) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
  const status = credentials?.status ?? null;
  const body = html`<p class="crumbs"><a href="${BASE}/projects">Projects</a> /</p>
<h1>${project.id}</h1>
<section class="facts">
  <dl>
    <dt>App</dt><dd>${project.appStoreId ? html`${project.bundleId} · ${project.appName} · ${project.appStoreId}` : html`<span class="muted">no app selected</span>`}</dd>
    <dt>Credentials</dt><dd>${credentialBadge(status)} ${credentials ? html`key ${credentials.keyId}, issuer ${credentials.issuerId}${credentials.verifiedAt ? html`, verified ${fmtDate(credentials.verifiedAt)}` : ''}` : ''}
      ${credentials?.statusDetail ? html`<div class="error-text">${credentials.statusDetail}</div>` : ''}
      ${status !== 'valid' ? html`<div class="fix">${CREDENTIAL_FIX[status ?? 'missing']}</div>` : ''}</dd>
    <dt>Schedule</dt><dd>${describeSchedule(project) || html`<span class="muted">none</span>`}${
      describeSchedule(project)
        ? nextRun === undefined
          ? html` <span class="muted">(queue unavailable)</span>`
          : nextRun
            ? html` · next run ${fmtDate(nextRun)}`
            : html` <span class="warn-text">(not in the queue yet)</span>`
        : ''
    }</dd>
    <dt>Grace period</dt><dd>${grace && !grace.removedAt ? `production ${grace.optIn ? 'on' : 'off'}, sandbox ${grace.sandboxOptIn ? 'on' : 'off'}, ${grace.durationDays} days, ${grace.renewalType}` : html`<span class="muted">no settings</span>`}</dd>
  </dl>
</section>
${actions(ctx, detail)}

<section id="runs">
<h2>Runs</h2>
${
  detail.runs.length === 0
    ? html`<p class="muted">No sync has run yet.</p>`
    : html`<table class="runs"><thead><tr><th>Started</th><th>Trigger</th><th>Status</th><th>Duration</th><th>Requests</th><th>Changes / error</th></tr></thead><tbody>
${detail.runs.map(
  (run) =>
    html`<tr class="run ${run.status}" data-run="${run.id}"><td>${fmtDate(run.startedAt)}</td><td>${run.trigger}</td><td>${runBadge(run.status)}</td><td class="num">${fmtDuration(run.durationMs)}</td><td class="num">${run.requestsMade}</td><td>${run.status === 'failed' ? html`<span class="error-text">${run.errorKind}: ${run.errorMessage}</span>` : fmtCounts(run.counts)}</td></tr>`,
)}
</tbody></table>`
}
</section>

<section id="catalog">
<h2>Catalog</h2>
<p>${detail.productCount} product${detail.productCount === 1 ? '' : 's'} stored (removed ones included), ${detail.groups.filter((g) => !g.removedAt).length} subscription group(s).${detail.productCount > detail.products.length ? html` Showing the first ${detail.products.length}; \`catalog-sync products ${project.id} --json\` lists all.` : ''}</p>
${[...byKind.entries()].map(
  ([kind, rows]) => html`<h3>${kind.replaceAll('_', ' ')} (${rows.length})</h3>
<table class="products"><thead><tr><th>Product id</th><th>Name</th><th>State</th>${kind === 'auto_renewable_subscription' ? html`<th>Group</th><th>Level</th><th>Period</th>` : ''}<th>Updated</th></tr></thead><tbody>
${rows.map(
  (p) =>
    html`<tr class="${p.removedAt ? 'removed' : ''}"><td>${p.productId}</td><td>${p.referenceName}</td><td>${p.removedAt ? badge('removed', 'muted') : p.state}</td>${kind === 'auto_renewable_subscription' ? html`<td>${p.groupAppleId ? (groupName.get(p.groupAppleId) ?? p.groupAppleId) : ''}</td><td class="num">${p.groupLevel}</td><td>${p.subscriptionPeriod}</td>` : ''}<td>${fmtDate(p.updatedAt)}</td></tr>`,
)}
</tbody></table>`,
)}
</section>

<section id="changes">
<h2>Changes</h2>
${
  detail.changes.length === 0
    ? html`<p class="muted">No change recorded yet.</p>`
    : html`<table class="changes"><thead><tr><th>Detected</th><th>Entity</th><th>Action</th><th>Fields</th><th>Before</th><th>After</th></tr></thead><tbody>
${detail.changes.map(
  (c) =>
    html`<tr class="change ${c.action}"><td>${fmtDate(c.detectedAt)}</td><td>${c.entity.replaceAll('_', ' ')} ${c.entityId}</td><td>${badge(c.action, c.action === 'removed' ? 'bad' : c.action === 'added' ? 'ok' : 'warn')}</td><td>${c.changedFields.join(', ')}</td><td>${jsonCell(c.before, c.action === 'updated' ? c.changedFields : [])}</td><td>${jsonCell(c.after, c.action === 'updated' ? c.changedFields : [])}</td></tr>`,
)}
</tbody></table>
${detail.olderChanges ? html`<p><a href="${BASE}/projects/${encodeURIComponent(project.id)}${query({ changesBefore: detail.olderChanges })}#changes">Older changes →</a></p>` : ''}`
}
</section>

<section id="rules">
<h2>Revenue-attribution rules</h2>
${
  detail.rules.length === 0
    ? html`<p class="muted">No rules yet (they come with the first sync of an app with subscriptions).</p>`
    : html`<table class="rules"><thead><tr><th>In force</th><th>Environment</th><th>Renewal</th><th>Grace days</th><th>Recovered revenue dated to</th><th>Access in grace</th><th>Unrecovered churn at</th><th>From</th><th>To</th></tr></thead><tbody>
${detail.rules.map(
  (r) =>
    html`<tr class="${r.effectiveTo ? 'history' : 'in-force'}"><td>${r.effectiveTo ? '' : badge('in force', 'ok')}</td><td>${r.environment}</td><td>${r.renewalKind.replaceAll('_', ' ')}</td><td class="num">${r.graceDays}</td><td>${r.recoveredRevenueDatedTo.replaceAll('_', ' ')}</td><td>${r.accessDuringGrace ? 'yes' : 'no'}</td><td>${r.unrecoveredChurnAt.replaceAll('_', ' ')}</td><td>${fmtDate(r.effectiveFrom)}</td><td>${fmtDate(r.effectiveTo)}</td></tr>`,
)}
</tbody></table>`
}
</section>

${pricesSection(project.id, sections.prices)}
${offersSection(project.id, sections.offers)}
${healthSection(project.id, sections.health)}
${deliveriesSection(project.id, sections.deliveries)}`;
  return layout(ctx, project.id, body);
}
