import type { RevenueOutput } from '../attribution/schemas.ts';
import { type Html, html, query } from './html.ts';
import { BASE, layout, type PageContext } from './views.ts';

/*
 * The console's revenue page: the stored attributions summed by `revenue` (src/app, the one
 * implementation) drawn as server-rendered SVG — customer price and proceeds per day or month,
 * one chart per currency (amounts in different currencies are never added), and by product —
 * with the exact numbers beside each chart. No script: the range is a plain GET form, a bar's
 * amount is in its <title> (the browser's tooltip). Amounts are shown as the decimal strings
 * `revenue` answers; they become numbers only to place bars, never to be printed or summed.
 */

export type RevenuePeriod = 'day' | 'month';

export interface RevenueForm {
  from: string;
  to: string;
  by: RevenuePeriod;
  environment: 'production' | 'sandbox';
}

/** The longest range a chart draws, so a page stays a page (a longer one: by month). */
export const MAX_PERIODS: Record<RevenuePeriod, number> = { day: 366, month: 120 };

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The form's values (defaults: the last 30 days by day, production), or what is wrong with them. */
export function parseRevenueForm(
  q: Record<string, unknown>,
  now: Date,
): { form: RevenueForm; error: { field: string; message: string } | null } {
  const text = (value: unknown) => (typeof value === 'string' ? value.trim() : '');
  const by: RevenuePeriod = text(q.by) === 'month' ? 'month' : 'day';
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const defaultFrom =
    by === 'month'
      ? isoDay(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1))
      : isoDay(today - 29 * DAY_MS);
  const form: RevenueForm = {
    from: text(q.from) || defaultFrom,
    to: text(q.to) || isoDay(today + DAY_MS),
    by,
    environment: text(q.environment) === 'sandbox' ? 'sandbox' : 'production',
  };
  for (const field of ['from', 'to'] as const) {
    const value = form[field];
    if (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
      return { form, error: { field, message: `${field} must be a date such as 2026-03-01.` } };
    }
  }
  if (q.by !== undefined && !['day', 'month'].includes(text(q.by))) {
    return { form, error: { field: 'by', message: 'by must be day or month.' } };
  }
  if (q.environment !== undefined && !['production', 'sandbox'].includes(text(q.environment))) {
    return { form, error: { field: 'environment', message: 'environment must be production or sandbox.' } };
  }
  const periods = periodKeys(form.from, form.to, form.by).length;
  if (form.from >= form.to) {
    return { form, error: { field: 'to', message: 'to must be after from (to is exclusive).' } };
  }
  if (periods > MAX_PERIODS[form.by]) {
    return {
      form,
      error: {
        field: 'to',
        message: `at most ${MAX_PERIODS[form.by]} ${form.by}s per chart; choose a shorter range${form.by === 'day' ? ' or by month' : ''}.`,
      },
    };
  }
  return { form, error: null };
}

/** Every day (YYYY-MM-DD) or month (YYYY-MM) from `from` (inclusive) to `to` (exclusive), in UTC. */
export function periodKeys(from: string, to: string, by: RevenuePeriod): string[] {
  const start = Date.parse(`${from.slice(0, 10)}T00:00:00Z`);
  const end = Date.parse(to.length > 10 ? to : `${to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end) || start >= end) return [];
  const keys: string[] = [];
  if (by === 'day') {
    for (let t = start; t < end && keys.length <= MAX_PERIODS.day; t += DAY_MS) keys.push(isoDay(t));
    return keys;
  }
  const d = new Date(start);
  for (
    let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    t < end && keys.length <= MAX_PERIODS.month;
    t = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + 1, 1)
  ) {
    keys.push(isoDay(t).slice(0, 7));
  }
  return keys;
}

type Row = RevenueOutput['rows'][number];
type Total = RevenueOutput['totals'][number];

const currenciesOf = (rows: { currency: string }[]) => [...new Set(rows.map((r) => r.currency))].sort();

/** Position only: a chart needs numbers for its geometry; the amounts printed stay strings. */
const magnitude = (amount: string) => Number(amount);

interface Bar {
  key: string;
  customerPrice: string;
  proceeds: string;
  count: number;
  unknownProceeds: number;
}

const W = 760;
const BAR_AREA_H = 190;
const PAD = { left: 78, right: 12, top: 12, bottom: 34 };

function scale(bars: Bar[]) {
  const values = bars.flatMap((b) => [magnitude(b.customerPrice), magnitude(b.proceeds)]);
  const max = Math.max(0, ...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const y = (v: number) => PAD.top + ((max - v) / span) * BAR_AREA_H;
  return { max, min, y };
}

/** Customer price and proceeds per period, for one currency: a column pair per period. */
export function periodChart(currency: string, by: RevenuePeriod, keys: string[], rows: Row[]): Html {
  const byKey = new Map(rows.filter((r) => r.currency === currency).map((r) => [r.key, r]));
  const bars: Bar[] = keys.map(
    (key) => byKey.get(key) ?? { key, customerPrice: '0', proceeds: '0', count: 0, unknownProceeds: 0 },
  );
  const { max, min, y } = scale(bars);
  const height = PAD.top + BAR_AREA_H + PAD.bottom;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, bars.length);
  const barW = Math.max(1, slot * 0.4);
  const labelEvery = Math.max(1, Math.ceil(bars.length / 12));
  const zero = y(0);
  const rect = (kind: 'price' | 'proceeds', bar: Bar, i: number) => {
    const amount = kind === 'price' ? bar.customerPrice : bar.proceeds;
    const top = Math.min(y(magnitude(amount)), zero);
    const h = Math.abs(y(magnitude(amount)) - zero);
    const x = PAD.left + i * slot + slot * 0.1 + (kind === 'proceeds' ? barW : 0);
    return html`<rect class="bar ${kind}" data-key="${bar.key}" data-amount="${amount}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${bar.key}: ${kind === 'price' ? 'customer price' : 'proceeds'} ${amount} ${currency} (${bar.count} attributions${bar.unknownProceeds ? `, ${bar.unknownProceeds} with unknown proceeds` : ''})</title></rect>`;
  };
  return html`<svg class="chart" role="img" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" data-currency="${currency}" data-by="${by}" aria-label="Customer price and proceeds in ${currency} per ${by}">
<line class="axis" x1="${PAD.left}" y1="${zero.toFixed(1)}" x2="${W - PAD.right}" y2="${zero.toFixed(1)}"/>
<text class="tick" x="${PAD.left - 6}" y="${(y(max) + 4).toFixed(1)}" text-anchor="end">${formatTick(max)}</text>
<text class="tick" x="${PAD.left - 6}" y="${(zero + 4).toFixed(1)}" text-anchor="end">0</text>
${min < 0 ? html`<text class="tick" x="${PAD.left - 6}" y="${(y(min) + 4).toFixed(1)}" text-anchor="end">${formatTick(min)}</text>` : ''}
${bars.map((bar, i) => [rect('price', bar, i), rect('proceeds', bar, i)])}
${bars.map((bar, i) =>
  i % labelEvery === 0
    ? html`<text class="label" x="${(PAD.left + i * slot + slot * 0.1).toFixed(1)}" y="${PAD.top + BAR_AREA_H + 18}">${by === 'day' ? bar.key.slice(5) : bar.key}</text>`
    : '',
)}
<text class="unit" x="4" y="${PAD.top + 10}">${currency}</text>
</svg>`;
}

/** Customer price and proceeds per product, for one currency: a row pair per product. */
export function productChart(currency: string, rows: Row[]): Html {
  const bars: Bar[] = rows.filter((r) => r.currency === currency);
  const rowH = 26;
  const labelW = 270;
  const height = PAD.top + bars.length * rowH + 8;
  const values = bars.flatMap((b) => [magnitude(b.customerPrice), magnitude(b.proceeds)]);
  const max = Math.max(0, ...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const x = (v: number) => labelW + ((v - min) / span) * (W - labelW - PAD.right);
  const zero = x(0);
  const rect = (kind: 'price' | 'proceeds', bar: Bar, i: number) => {
    const amount = kind === 'price' ? bar.customerPrice : bar.proceeds;
    const left = Math.min(x(magnitude(amount)), zero);
    const w = Math.abs(x(magnitude(amount)) - zero);
    const top = PAD.top + i * rowH + (kind === 'proceeds' ? 10 : 0);
    return html`<rect class="bar ${kind}" data-key="${bar.key}" data-amount="${amount}" x="${left.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="9"><title>${bar.key}: ${kind === 'price' ? 'customer price' : 'proceeds'} ${amount} ${currency}</title></rect>`;
  };
  return html`<svg class="chart products" role="img" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" data-currency="${currency}" data-by="product" aria-label="Customer price and proceeds in ${currency} by product">
<line class="axis" x1="${zero.toFixed(1)}" y1="${PAD.top - 4}" x2="${zero.toFixed(1)}" y2="${height - 4}"/>
${bars.map(
  (bar, i) =>
    html`<text class="label" x="${labelW - 8}" y="${PAD.top + i * rowH + 14}" text-anchor="end">${truncate(bar.key, 40)}</text>${rect('price', bar, i)}${rect('proceeds', bar, i)}`,
)}
</svg>`;
}

function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (abs >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  return value.toFixed(abs >= 100 ? 0 : 2);
}

const truncate = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function amountsTable(first: string, rows: Bar[], currency: string, total: Total | undefined): Html {
  return html`<table class="revenue-numbers" data-currency="${currency}"><thead><tr><th>${first}</th><th class="num">Customer price</th><th class="num">Proceeds</th><th class="num">Count</th><th class="num">Unknown proceeds</th></tr></thead><tbody>
${rows.map(
  (r) =>
    html`<tr data-key="${r.key}"><td class="nowrap">${r.key}</td><td class="num amount">${r.customerPrice}</td><td class="num amount">${r.proceeds}</td><td class="num">${r.count}</td><td class="num">${r.unknownProceeds || ''}</td></tr>`,
)}
</tbody>${
    total
      ? html`<tfoot><tr class="total"><th>Total ${currency}</th><td class="num amount" data-total="customerPrice">${total.customerPrice}</td><td class="num amount" data-total="proceeds">${total.proceeds}</td><td class="num">${total.count}</td><td class="num">${total.unknownProceeds || ''}</td></tr></tfoot>`
      : ''
  }</table>`;
}

export interface RevenueView {
  projectId: string;
  form: RevenueForm;
  error: { field: string; message: string } | null;
  periods: RevenueOutput | null;
  products: RevenueOutput | null;
}

export function revenuePage(ctx: PageContext, view: RevenueView): Html {
  const { projectId, form, periods, products } = view;
  const projectHref = `${BASE}/projects/${encodeURIComponent(projectId)}`;
  const selectOption = (value: string, label: string, current: string) =>
    html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;
  const currencies = periods ? currenciesOf(periods.totals) : [];
  const keys = periods ? periodKeys(periods.from, periods.to, form.by) : [];
  const body = html`<p class="crumbs"><a href="${BASE}/projects">Projects</a> / <a href="${projectHref}">${projectId}</a> /</p>
<h1>Revenue · ${projectId}</h1>
<form class="search range" method="get" action="${projectHref}/revenue">
  <label class="inline">From <input type="date" name="from" value="${form.from}" required></label>
  <label class="inline">To (exclusive) <input type="date" name="to" value="${form.to}" required></label>
  <label class="inline">Per <select name="by">${selectOption('day', 'day', form.by)}${selectOption('month', 'month', form.by)}</select></label>
  <label class="inline">Environment <select name="environment">${selectOption('production', 'production', form.environment)}${selectOption('sandbox', 'sandbox', form.environment)}</select></label>
  <button type="submit">Show</button>
</form>
<p class="hint">Sums of the stored transaction attributions (their current versions), by revenue date in UTC: what customers paid (refunds negative) and the developer's proceeds, per currency. The same numbers as <code>catalog-sync revenue ${projectId} --from ${form.from} --to ${form.to} --by ${form.by}</code>.</p>
${view.error ? html`<p class="flash error" role="alert" data-field="${view.error.field}">${view.error.message}</p>` : ''}
${
  periods && currencies.length === 0
    ? html`<p class="summary empty">No stored attributions between ${form.from} and ${form.to} (${form.environment}). Transactions are attributed with <code>catalog-sync attribute-transactions</code>, <code>POST /api/v1/projects/…/transactions/attribution</code> or <code>attributeTransactions</code>.</p>`
    : ''
}
${
  periods
    ? currencies.map((currency) => {
        const total = periods.totals.find((t) => t.currency === currency);
        const rows = periods.rows.filter((r) => r.currency === currency);
        return html`<section class="revenue" id="per-${form.by}-${currency}" data-currency="${currency}">
<h2>${currency} per ${form.by}: customer price ${total?.customerPrice ?? '0'}, proceeds ${total?.proceeds ?? '0'}</h2>
<p class="legend"><span class="swatch price"></span> customer price <span class="swatch proceeds"></span> proceeds${total?.unknownProceeds ? html` · <span class="warn-text">${total.unknownProceeds} attributions with unknown proceeds (left out of proceeds)</span>` : ''}</p>
<div class="chart-and-numbers">${periodChart(currency, form.by, keys, periods.rows)}${amountsTable(form.by === 'day' ? 'Day' : 'Month', rows, currency, total)}</div>
</section>`;
      })
    : ''
}
${
  products && currenciesOf(products.rows).length > 0
    ? html`<h2 id="by-product">By product</h2>
${currenciesOf(products.rows).map((currency) => {
  const rows = products.rows.filter((r) => r.currency === currency);
  return html`<section class="revenue by-product" data-currency="${currency}">
<h3 class="currency">${currency}</h3>
<div class="chart-and-numbers">${productChart(currency, products.rows)}${amountsTable(
    'Product',
    rows,
    currency,
    products.totals.find((t) => t.currency === currency),
  )}</div>
</section>`;
})}`
    : ''
}
<p class="hint"><a href="${projectHref}/revenue${query({ from: form.from, to: form.to, by: form.by === 'day' ? 'month' : 'day', environment: form.environment === 'production' ? undefined : form.environment })}">Per ${form.by === 'day' ? 'month' : 'day'} for the same range</a></p>`;
  return layout(ctx, `Revenue · ${projectId}`, body);
}
