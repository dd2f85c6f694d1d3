import type { AppsListing } from '../app/credentials.ts';
import { authFailureMessage, forbiddenRoleMessage, noAppsMessage } from '../appstore/index.ts';
import { formatDuration as formatEvery } from '../time/duration.ts';
import type { Role } from './auth.ts';
import { type Html, html, query, type Renderable } from './html.ts';
import {
  type NeedsAction,
  type ProjectDetail,
  type ProjectListPage,
  type ProjectListQuery,
  type ProjectListRow,
  type ProjectSections,
  SECTION_LIMITS,
  type Section,
  type SectionFilter,
  type Sort,
  type StaleProjectRow,
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

/** Short labels of what a project needs (the list's badge). */
export const NEEDS_LABEL: Record<NeedsAction, string> = {
  no_key: 'no key',
  key_invalid: 'key invalid',
  key_forbidden: 'key forbidden',
  key_no_apps: 'key sees no app',
  no_app: 'no app',
  sync_failed: 'sync failed',
};

const CREDENTIAL_LABEL: Record<string, string> = {
  unverified: 'unchecked',
  valid: 'valid',
  invalid: 'invalid',
  forbidden: 'forbidden',
  no_apps: 'sees no app',
};

function credentialBadge(status: string | null): Html {
  if (!status) return badge('no key', 'bad');
  const tone = status === 'valid' ? 'ok' : status === 'unverified' ? 'warn' : 'bad';
  return badge(CREDENTIAL_LABEL[status] ?? status, tone);
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
<link rel="icon" href="${BASE}/favicon.ico">
</head>
<body>
<header class="top">
  <a class="brand" href="${BASE}/projects">catalog-sync</a>
  ${
    ctx.role
      ? html`<nav>
    <a href="${BASE}/projects">Projects</a>
    <a href="${BASE}/fleet">Fleet</a>
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
    needs: next.needsActionOnly ? 'action' : undefined,
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
  if (!row.scheduleEverySeconds && !row.scheduleCron) return html`<span class="muted">none</span>`;
  const schedule = describeSchedule(row);
  if (!nextRuns) return html`${schedule} <span class="muted">· queue unavailable</span>`;
  const next = nextRuns.get(row.id);
  return next
    ? html`${schedule} <span class="muted">· next ${fmtDate(next)}</span>`
    : html`${schedule} <span class="warn-text">· not queued yet</span>`;
}

/** A one-line cell: the text is cut with an ellipsis, the whole of it in the tooltip. */
const cell = (content: Renderable, title: string, cls = '') =>
  html`<td class="${cls}" title="${title}">${content}</td>`;

/** The row's status: the most pressing thing to fix, or "ok"; the fix itself is on the project page. */
function statusBadge(row: ProjectListRow): Html {
  const [first, ...more] = row.needs;
  if (!first) {
    return row.credentialStatus === 'unverified' ? badge('unchecked', 'warn') : badge('ok', 'ok');
  }
  return html`${badge(NEEDS_LABEL[first], 'bad')}${more.length > 0 ? html` <span class="muted">+${more.length}</span>` : ''}`;
}

function projectRow(row: ProjectListRow, nextRuns: ProjectsView['nextRuns']): Html {
  const needs = row.needs.map((n) => NEEDS_LABEL[n]).join(', ');
  const app = row.appStoreId ? `${row.bundleId} · ${row.appName} · ${row.appStoreId}` : 'no app selected';
  const lastRun = row.runStatus
    ? row.runStatus === 'failed'
      ? `${row.runErrorKind}: ${row.runErrorMessage}`
      : fmtCounts(row.runCounts)
    : 'never synced';
  return html`<tr class="${row.needs.length > 0 ? 'needs-action' : ''}${row.failing ? ' failing' : ''}" data-project="${row.id}" data-needs="${row.needs.join(' ')}">
  ${cell(html`<a href="${BASE}/projects/${encodeURIComponent(row.id)}">${row.id}</a>`, row.id, 'id')}
  ${cell(row.appStoreId ? app : html`<span class="muted">no app selected</span>`, app)}
  ${cell(statusBadge(row), needs ? `Needs action: ${needs}. The project page says how to fix it.` : 'Nothing to do.')}
  ${cell(credentialBadge(row.credentialStatus), row.verifiedAt ? `checked ${fmtDate(row.verifiedAt)}` : 'never checked')}
  ${cell(nextRunCell(row, nextRuns), describeSchedule(row) || 'no schedule')}
  ${cell(html`${runBadge(row.runStatus)} ${fmtDate(row.runStartedAt)}`, lastRun)}
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
  <label class="inline"><input type="checkbox" id="needs" name="needs" value="action"${q.needsActionOnly ? html` checked` : ''}> needs action only</label>
  ${q.failingOnly ? html`<input type="hidden" name="failing" value="1">` : ''}
  ${q.sort !== 'project' ? html`<input type="hidden" name="sort" value="${q.sort}">` : ''}
  ${q.direction !== 'asc' ? html`<input type="hidden" name="dir" value="${q.direction}">` : ''}
  <button type="submit">Search</button>
</form>
<p class="summary">${page.total} project${page.total === 1 ? '' : 's'}${q.search ? html` matching “${q.search}”` : ''}${q.needsActionOnly ? ' needing action' : ''}; <a class="${page.needsAction > 0 ? 'error-text' : ''}" href="${listLink(q, { needsActionOnly: true, page: 1 })}"><strong>${page.needsAction} need${page.needsAction === 1 ? 's' : ''} action</strong></a> (listed first), ${page.failing} failing.</p>
<table class="projects">
<colgroup><col class="c-id"><col class="c-app"><col class="c-status"><col class="c-key"><col class="c-schedule"><col class="c-run"><col class="c-duration"></colgroup>
<thead><tr>${sortHeader(q, 'project')}${sortHeader(q, 'app')}<th scope="col">Status</th>${sortHeader(q, 'credentials')}<th scope="col">Schedule</th>${sortHeader(q, 'last_sync')}${sortHeader(q, 'duration')}</tr></thead>
<tbody>
${page.rows.length === 0 ? html`<tr><td colspan="7" class="muted">No project matches.</td></tr>` : page.rows.map((row) => projectRow(row, view.nextRuns))}
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
  ${detail.project.appStoreId ? actionForm(ctx, id, 'sync', 'Sync now') : ''}
  ${actionForm(ctx, id, 'verify', 'Verify & Fetch Apps')}
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

/** The app picker of a project with none: the apps its key saw at the last "Verify & Fetch Apps". */
function appPicker(ctx: PageContext, projectId: string, apps: AppsListing | null | undefined): Html {
  if (apps === null) return html``;
  if (apps === undefined) {
    return html`<section id="app" class="picker"><h2>Pick the app</h2><p class="error-text">The apps the key sees could not be read; the worker’s log has the details.</p></section>`;
  }
  const body =
    apps.apps.length === 0
      ? html`<p class="muted">The key has shown no app yet: press "Verify &amp; Fetch Apps"${apps.credentialStatus === null ? ' once a key is saved' : ''}.</p>`
      : ctx.role === 'write'
        ? actionForm(
            ctx,
            projectId,
            'app',
            'Use this app',
            html`<label for="appStoreId">App</label> <select id="appStoreId" name="appStoreId" required>${apps.apps.map(
              (a) =>
                html`<option value="${a.appStoreId}">${a.bundleId} · ${a.name} · ${a.appStoreId}</option>`,
            )}</select>`,
          )
        : html`<ul>${apps.apps.map((a) => html`<li>${a.bundleId} · ${a.name} · ${a.appStoreId}</li>`)}</ul><p class="muted">Read-only session: picking one needs the operator token.</p>`;
  return html`<section id="app" class="picker"><h2>Pick the app</h2>
<p>This project syncs nothing until it has an app. The key saw ${plural(apps.apps.length, 'app')} at its last check.</p>
${body}</section>`;
}

/** What an operator must do for this project, each thing said once (the list shows only a badge). */
function needsList(detail: ProjectDetail): Html {
  const status = detail.credentials?.status ?? null;
  const items: Html[] = [];
  if (!status) items.push(html`<li><strong>No key.</strong> ${CREDENTIAL_FIX.missing}</li>`);
  else if (status !== 'valid') {
    const detailText = detail.credentials?.statusDetail ?? null;
    const fix = CREDENTIAL_FIX[status] ?? '';
    // Apple's detail often is the advice itself: say it once.
    const apple = detailText && !fix.includes(detailText) && !detailText.includes(fix) ? detailText : null;
    items.push(
      html`<li class="${status === 'unverified' ? 'warn-text' : ''}"><strong>Key ${CREDENTIAL_LABEL[status] ?? status}.</strong> ${apple ? html`Apple answered: ${apple} ` : ''}${fix}</li>`,
    );
  }
  if (!detail.project.appStoreId) {
    items.push(
      html`<li><strong>No app.</strong> Pick the app below (the apps come from "Verify &amp; Fetch Apps").</li>`,
    );
  }
  const last = detail.runs[0];
  if (last?.status === 'failed') {
    items.push(
      html`<li><strong>The last sync failed</strong> (${fmtDate(last.startedAt)}): ${last.errorKind}: ${(last.errorMessage ?? '').replace(/\.\s*$/, '')}. Fix the cause, then "Sync now".</li>`,
    );
  }
  if (items.length === 0) return html``;
  return html`<section class="needs" aria-label="needs action"><h2>Needs action</h2><ul>${items}</ul></section>`;
}

/** In-page navigation, and the project's revenue page. */
function sectionNav(projectId: string): Html {
  const links: [string, string][] = [
    ['health', 'Health'],
    ['runs', 'Runs'],
    ['catalog', 'Catalog'],
    ['changes', 'Changes'],
    ['prices', 'Prices'],
    ['offers', 'Offers'],
    ['rules', 'Rules'],
    ['deliveries', 'Webhooks'],
  ];
  return html`<nav class="sections" aria-label="sections">${links.map(([id, label]) => html`<a href="#${id}">${label}</a>`)}<a class="page" href="${BASE}/projects/${encodeURIComponent(projectId)}/revenue">Revenue</a></nav>`;
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

/** Links to the other pages of a section, keeping the filter and the other section's page. */
function sectionPager(
  projectId: string,
  filter: SectionFilter,
  which: 'prices' | 'offers',
  data: { total: number; page: number; pageSize: number },
): Renderable {
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  if (pages === 1) return '';
  const link = (page: number) => {
    const next = { ...filter, [which === 'prices' ? 'pricesPage' : 'offersPage']: page };
    return `${BASE}/projects/${encodeURIComponent(projectId)}${filterQuery(next)}#${which}`;
  };
  return html`<nav class="pager" aria-label="${which} pages">
  ${data.page > 1 ? html`<a href="${link(data.page - 1)}" rel="prev">← Previous</a>` : ''}
  <span>Page ${data.page} of ${pages} (${data.pageSize} a page)</span>
  ${data.page < pages ? html`<a href="${link(data.page + 1)}" rel="next">Next →</a>` : ''}
</nav>`;
}

function filterQuery(filter: SectionFilter): string {
  return query({
    product: filter.product,
    territory: filter.territory,
    prices_page: filter.pricesPage > 1 ? filter.pricesPage : undefined,
    offers_page: filter.offersPage > 1 ? filter.offersPage : undefined,
  });
}

/** One filter for the prices and offers: a product and/or a territory. */
function detailsFilter(projectId: string, detail: ProjectDetail, filter: SectionFilter): Html {
  const live = detail.products.filter((p) => !p.removedAt);
  return html`<form method="get" action="${BASE}/projects/${encodeURIComponent(projectId)}#prices" class="search filter" role="search" aria-label="filter prices and offers" title="Filters the prices and the offers">
  <label for="product">Product</label>
  <select id="product" name="product"><option value="">all products</option>${live.map(
    (p) =>
      html`<option value="${p.productId}"${filter.product === p.productId ? html` selected` : ''}>${p.productId} · ${p.referenceName}</option>`,
  )}</select>
  <label for="territory">Territory</label>
  <input id="territory" name="territory" value="${filter.territory ?? ''}" placeholder="FRA" size="5" maxlength="3">
  <button type="submit">Filter</button>
  <span class="hint">the prices and the offers</span>
  ${filter.product || filter.territory ? html`<a href="${BASE}/projects/${encodeURIComponent(projectId)}#prices">clear</a>` : ''}
</form>`;
}

const filterText = (filter: SectionFilter) =>
  [
    filter.product ? `product ${filter.product}` : '',
    filter.territory ? `territory ${filter.territory.toUpperCase()}` : '',
  ]
    .filter(Boolean)
    .join(', ');

const amount = (value: string | null, currency: string | null) =>
  value === null ? html`<span class="muted">—</span>` : `${value}${currency ? ` ${currency}` : ''}`;

function pricesSection(
  projectId: string,
  section: ProjectSections['prices'],
  filter: SectionFilter,
  filterForm: Html,
): Html {
  const filtered = filterText(filter);
  return html`<section id="prices">
<h2>Prices</h2>
${filterForm}
${sectionBody(section, (data) =>
  data.total === 0
    ? html`<p class="muted">${filtered ? `No price in force for ${filtered}.` : "No prices stored yet: details are read after syncs, within the key's budget."}</p>`
    : html`<p class="count">${plural(data.total, 'price')} in force now (per product and territory)${filtered ? ` for ${filtered}` : ''}.</p>
<table class="prices"><thead><tr><th>Product</th><th>Territory</th><th>Customer price</th><th>Proceeds</th><th>Proceeds, year 2</th><th>Since</th><th>Until</th></tr></thead><tbody>
${data.rows.map(
  (p) =>
    html`<tr class="price"><td>${p.productId}</td><td>${p.territory}</td><td class="num">${amount(p.customerPrice, p.currency)}</td><td class="num">${amount(p.proceeds, p.currency)}</td><td class="num">${amount(p.proceedsYear2, p.currency)}</td><td>${p.from ?? ''}</td><td>${p.until ?? ''}</td></tr>`,
)}
</tbody></table>
${sectionPager(projectId, filter, 'prices', data)}`,
)}
</section>`;
}

function offerDuration(o: { duration: string | null; numberOfPeriods: number | null }): string {
  if (!o.duration) return '';
  return o.numberOfPeriods && o.numberOfPeriods > 1
    ? `${o.numberOfPeriods} × ${o.duration.toLowerCase().replaceAll('_', ' ')}`
    : o.duration.toLowerCase().replaceAll('_', ' ');
}

function offersSection(projectId: string, section: ProjectSections['offers'], filter: SectionFilter): Html {
  const filtered = filterText(filter);
  return html`<section id="offers">
<h2>Offers</h2>
${sectionBody(section, (data) =>
  data.total === 0
    ? html`<p class="muted">${filtered ? `No offer for ${filtered}.` : "No offers stored yet: details are read after syncs, within the key's budget."}</p>`
    : html`<p class="count">${plural(data.total, 'offer')}${filtered ? ` for ${filtered}` : ''} (introductory offers have one per territory; removed ones marked).</p>
<table class="offers"><thead><tr><th>Product</th><th>Kind</th><th>Name</th><th>Mode</th><th>Duration</th><th>Territory</th><th>From</th><th>To</th><th>Priced in</th></tr></thead><tbody>
${data.rows.map(
  (o) =>
    html`<tr class="offer${o.removedAt ? ' removed' : ''}"><td>${o.productId}</td><td>${o.kind.replaceAll('_', ' ')}</td><td>${o.name ?? ''}${o.removedAt ? html` ${badge('removed', 'muted')}` : o.active === false ? html` ${badge('inactive', 'muted')}` : ''}</td><td>${(o.offerMode ?? '').toLowerCase().replaceAll('_', ' ')}</td><td>${offerDuration(o)}</td><td>${o.territory ?? ''}</td><td>${o.startDate ?? ''}</td><td>${o.endDate ?? ''}</td><td class="num">${offerPrices(o.prices, filter.territory)}</td></tr>`,
)}
</tbody></table>
${sectionPager(projectId, filter, 'offers', data)}`,
)}
</section>`;
}

/** An offer's price in the filtered territory, else how many territories it is priced in. */
function offerPrices(
  prices: { territory: string; customerPrice: string | null; currency: string | null }[],
  territory: string | undefined,
): Renderable {
  const t = territory?.toUpperCase();
  const here = t ? prices.find((p) => p.territory === t) : undefined;
  if (here) return amount(here.customerPrice, here.currency);
  if (prices.length === 1)
    return html`${prices[0]!.territory} ${amount(prices[0]!.customerPrice, prices[0]!.currency)}`;
  return plural(prices.length, 'territory', 'territories');
}

/** The territories, locales or offers an issue is about, cut to a readable few. */
function issueItems(items: string[]): string {
  const shown = items.slice(0, 12).join(', ');
  return items.length > 12 ? `${shown} and ${items.length - 12} more` : shown;
}

/**
 * "healthy" only when it can be known: a catalog is stored and the key still reads it. Without a
 * catalog, or with a key Apple refuses, the stored catalog says nothing about the real one.
 */
export function healthVerdict(input: {
  issues: number;
  liveProducts: number;
  credentialStatus: string | null;
}): { label: string; tone: string; why: string } {
  const keyBroken =
    !input.credentialStatus || ['invalid', 'forbidden', 'no_apps'].includes(input.credentialStatus);
  if (input.liveProducts === 0) return { label: 'unknown', tone: 'muted', why: 'No catalog stored yet.' };
  if (keyBroken) {
    return {
      label: input.issues > 0 ? plural(input.issues, 'issue') : 'unknown',
      tone: input.issues > 0 ? 'bad' : 'muted',
      why: 'The key cannot read the catalog now: the stored one may be out of date.',
    };
  }
  if (input.issues === 0)
    return { label: 'healthy', tone: 'ok', why: 'No issue found in the stored catalog.' };
  return { label: plural(input.issues, 'issue'), tone: 'warn', why: '' };
}

function healthSection(
  projectId: string,
  section: ProjectSections['health'],
  context: { liveProducts: number; credentialStatus: string | null },
): Html {
  return html`<section id="health">
<h2>Catalog health</h2>
${sectionBody(section, (health) => {
  const counted = Object.entries(health.counts).filter(([, n]) => n > 0);
  const shown = health.issues.slice(0, SECTION_LIMITS.issues);
  const verdict = healthVerdict({ issues: health.issues.length, ...context });
  return html`<p class="health-summary">${badge(verdict.label, verdict.tone)} ${[
    verdict.why,
    counted.length > 0
      ? `${counted.map(([kind, n]) => `${kind.replaceAll('_', ' ')} ${n}`).join(', ')}.`
      : '',
  ]
    .filter(Boolean)
    .join(' ')} ${
    context.liveProducts === 0
      ? ''
      : health.oldestDetailsReadAt
        ? `Oldest details read ${fmtDate(new Date(health.oldestDetailsReadAt))}.`
        : 'Some products\u2019 details have not been read yet.'
  }${health.staleProducts > 0 ? html` <span class="warn-text">${plural(health.staleProducts, 'product')} with stale details.</span>` : ''}</p>
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

export interface ProjectPageView {
  detail: ProjectDetail;
  sections: ProjectSections;
  /** Next planned run: undefined when the queue could not be read, null when not queued. */
  nextRun: Date | null | undefined;
  /** The app picker's choices: null with an app selected, undefined when they could not be read. */
  apps: AppsListing | null | undefined;
  filter: SectionFilter;
}

const CHANGE_ENTITY_LABEL: Record<string, [string, string]> = {
  product: ['product', 'products'],
  subscription_group: ['subscription group', 'subscription groups'],
  grace_period: ['grace-period setting', 'grace-period settings'],
  price: ['price', 'prices'],
  offer: ['offer', 'offers'],
  localization: ['localization', 'localizations'],
  availability: ['availability', 'availabilities'],
};

const str = (value: unknown) => (typeof value === 'string' ? value : null);

/** A price's amount as stored in a change ("4.99 EUR in FRA, proceeds 3.49"). */
function priceAmount(value: Record<string, unknown> | null): string {
  if (!value) return '';
  const currency = str(value.currency);
  const price = str(value.customerPrice);
  const proceeds = str(value.proceeds);
  const money = (v: string | null) => (v === null ? '—' : `${v}${currency ? ` ${currency}` : ''}`);
  return `${money(price)} in ${str(value.territory) ?? '?'}${proceeds !== null ? `, proceeds ${money(proceeds)}` : ''}${str(value.startDate) ? ` from ${str(value.startDate)}` : ''}`;
}

/** An offer's prices as stored in a change: the first territories and how many more. */
function offerAmount(value: Record<string, unknown> | null): string {
  if (!value) return '';
  const prices = Array.isArray(value.prices) ? (value.prices as Record<string, unknown>[]) : [];
  const head = prices
    .slice(0, 3)
    .map(
      (p) =>
        `${str(p.territory) ?? '?'} ${str(p.customerPrice) ?? 'free'}${str(p.currency) ? ` ${str(p.currency)}` : ''}`,
    );
  const mode = [str(value.offerMode), str(value.duration)]
    .filter(Boolean)
    .join(', ')
    .toLowerCase()
    .replaceAll('_', ' ');
  const more = prices.length > 3 ? ` and ${prices.length - 3} more territories` : '';
  return `${str(value.name) ?? str(value.kind) ?? 'offer'}${mode ? ` (${mode})` : ''}${head.length ? `: ${head.join(', ')}${more}` : ''}`;
}

/** What changed, with amounts for prices and offers (before → after). */
function changeWhat(c: ProjectDetail['changes'][number]): Html {
  if (c.entity === 'price' || c.entity === 'offer') {
    const render = c.entity === 'price' ? priceAmount : offerAmount;
    if (c.action === 'updated') {
      return html`<span class="amount before">${render(c.before)}</span> → <span class="amount after">${render(c.after)}</span>`;
    }
    return html`<span class="amount">${render(c.after ?? c.before)}</span>`;
  }
  return html`${c.changedFields.length ? html`<div class="muted">${c.changedFields.join(', ')}</div>` : ''}<div class="kv-pair">${jsonCell(c.before, c.action === 'updated' ? c.changedFields : [])}${c.action === 'updated' ? html`<span class="arrow">→</span>` : ''}${c.action === 'updated' ? jsonCell(c.after, c.changedFields) : c.before ? '' : jsonCell(c.after, [])}</div>`;
}

/** The entity of a change named for a reader: the product's id and name, not Apple's ids. */
function changeSubject(detail: ProjectDetail, c: ProjectDetail['changes'][number]): Html {
  const kind = CHANGE_ENTITY_LABEL[c.entity]?.[0] ?? c.entity;
  const appleId = detail.changeProducts.byChange.get(`${c.entity}:${c.entityId}`);
  const product = appleId ? detail.changeProducts.products.get(appleId) : undefined;
  if (product) {
    return html`${kind === 'product' ? '' : html`<span class="muted">${kind} of</span> `}<strong>${product.productId}</strong> <span class="muted">${product.referenceName}</span>`;
  }
  const name =
    str(c.after?.referenceName) ??
    str(c.before?.referenceName) ??
    str(c.after?.productId) ??
    str(c.before?.productId);
  return html`<span class="muted">${kind}</span> ${name ?? html`<span class="muted">Apple id ${c.entityId}</span>`}`;
}

function changesSection(detail: ProjectDetail): Html {
  const id = encodeURIComponent(detail.project.id);
  const first = detail.firstSync;
  const runOnly = detail.changesRun;
  const summary =
    first && runOnly !== first.runId
      ? html`<div class="first-sync"><p><strong>First sync</strong> (${fmtDate(first.detectedAt)}): the catalog as first read. <a href="${BASE}/projects/${id}${query({ run: first.runId })}#changes">Show its rows</a></p><ul>${first.lines.map(
          (l) => {
            const [one, many] = CHANGE_ENTITY_LABEL[l.entity] ?? [l.entity, `${l.entity}s`];
            return html`<li class="first-sync-line" data-entity="${l.entity}">${l.count} ${l.count === 1 ? one : many} ${l.action}</li>`;
          },
        )}</ul></div>`
      : '';
  return html`<section id="changes">
<h2>Changes</h2>
${runOnly ? html`<p>Only the rows of run ${runOnly}. <a href="${BASE}/projects/${id}#changes">All changes</a></p>` : ''}
${
  detail.changes.length === 0
    ? html`<p class="muted">${first && !runOnly ? 'No change since the first sync.' : 'No change recorded yet.'}</p>`
    : html`<table class="changes"><thead><tr><th>Detected</th><th>What</th><th>Action</th><th>Details</th></tr></thead><tbody>
${detail.changes.map(
  (c) =>
    html`<tr class="change ${c.action} ${c.entity}"><td class="nowrap">${fmtDate(c.detectedAt)}</td><td>${changeSubject(detail, c)}</td><td>${badge(c.action, c.action === 'removed' ? 'bad' : c.action === 'added' ? 'ok' : 'warn')}</td><td>${changeWhat(c)}</td></tr>`,
)}
</tbody></table>
${detail.olderChanges ? html`<p><a href="${BASE}/projects/${id}${query({ changesBefore: detail.olderChanges, run: runOnly ?? undefined })}#changes">Older changes →</a></p>` : ''}`
}
${summary}
</section>`;
}

export function projectPage(ctx: PageContext, view: ProjectPageView): Html {
  const { detail, sections, nextRun, filter } = view;
  const { project, credentials, grace } = detail;
  const groupName = new Map(detail.groups.map((g) => [g.appleId, g.referenceName]));
  const byKind = new Map<string, typeof detail.products>();
  for (const p of detail.products) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
  const status = credentials?.status ?? null;
  const liveProducts = detail.products.filter((p) => !p.removedAt).length;
  const body = html`<p class="crumbs"><a href="${BASE}/projects">Projects</a> /</p>
<h1>${project.id}</h1>
${sectionNav(project.id)}
${needsList(detail)}
<section class="facts" id="status">
  <dl>
    <dt>App</dt><dd>${project.appStoreId ? html`${project.bundleId} · ${project.appName} · ${project.appStoreId}` : html`<span class="error-text">no app selected</span>`}</dd>
    <dt>Key</dt><dd class="key">${credentialBadge(status)} ${credentials ? html`key ${credentials.keyId}, issuer ${credentials.issuerId}${credentials.verifiedAt ? html`, <span class="${status === 'valid' ? '' : 'error-text'}">checked ${fmtDate(credentials.verifiedAt)}</span>` : ', never checked'}` : ''}</dd>
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
${appPicker(ctx, project.id, view.apps)}
${healthSection(project.id, sections.health, { liveProducts, credentialStatus: status })}

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

${changesSection(detail)}

${pricesSection(project.id, sections.prices, filter, detailsFilter(project.id, detail, filter))}
${offersSection(project.id, sections.offers, filter)}

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

${deliveriesSection(project.id, sections.deliveries)}`;
  return layout(ctx, project.id, body);
}

// ── The fleet ────────────────────────────────────────────────────────────────────────────────

export interface BudgetBound {
  stoppedBy: 'budget' | 'rate_limited';
  /** Products left for a later run. */
  deferred: number | null;
  at: Date | null;
}

export interface FleetView {
  stale: { rows: StaleProjectRow[]; total: number };
  /** Undefined when the queue could not be read. */
  bound: Map<string, BudgetBound> | undefined;
  maxAgeMs: number;
}

const projectLink = (id: string) => html`<a href="${BASE}/projects/${encodeURIComponent(id)}">${id}</a>`;

export function fleetPage(ctx: PageContext, view: FleetView): Html {
  const bound = view.bound ? [...view.bound.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) : null;
  const days = Math.round((view.maxAgeMs / 86_400_000) * 10) / 10;
  const body = html`<h1>Fleet</h1>
<section id="budget-bound">
<h2>Budget-bound</h2>
<p class="muted">Projects whose latest sync (of the completed jobs the queue keeps, up to a day) stopped reading catalog details because the key's details budget ran out or Apple rate-limited it; the rest is read on later runs.</p>
${
  bound === null
    ? html`<p class="error-text">The queue could not be read; try again.</p>`
    : bound.length === 0
      ? html`<p class="summary">No project is budget-bound.</p>`
      : html`<p class="summary">${plural(bound.length, 'project')} budget-bound.</p>
<table class="bound"><thead><tr><th>Project</th><th>Stopped by</th><th>Products left</th><th>Sync finished</th></tr></thead><tbody>
${bound.map(
  ([id, b]) =>
    html`<tr class="bound" data-project="${id}"><td>${projectLink(id)}</td><td>${badge(b.stoppedBy === 'budget' ? "key's budget" : 'rate limited', 'warn')}</td><td class="num">${b.deferred ?? ''}</td><td>${fmtDate(b.at)}</td></tr>`,
)}
</tbody></table>`
}
</section>
<section id="stale">
<h2>Stale details</h2>
<p class="muted">Projects with live products whose details (prices, offers, localizations, availability) were never read or are older than ${days} days (DETAILS_MAX_AGE).</p>
${
  view.stale.rows.length === 0
    ? html`<p class="summary">No project has stale details.</p>`
    : html`<p class="summary">${plural(view.stale.total, 'project')} with stale details${view.stale.total > view.stale.rows.length ? `; the ${view.stale.rows.length} most stale shown` : ''}.</p>
<table class="stale"><thead><tr><th>Project</th><th>Stale</th><th>Never read</th><th>Live products</th><th>Oldest read</th><th>Budget-bound</th></tr></thead><tbody>
${view.stale.rows.map(
  (r) =>
    html`<tr class="stale" data-project="${r.id}"><td>${projectLink(r.id)}</td><td class="num">${r.stale}</td><td class="num">${r.neverRead}</td><td class="num">${r.liveProducts}</td><td>${fmtDate(r.oldestReadAt)}</td><td>${view.bound?.has(r.id) ? badge('yes', 'warn') : ''}</td></tr>`,
)}
</tbody></table>`
}
</section>`;
  return layout(ctx, 'Fleet', body);
}
