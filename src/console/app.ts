import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import { revenue } from '../app/attribution.ts';
import type { ServiceContext } from '../context.ts';
import { AppError, errorMessage, InvalidInputError, NotFoundError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { parseProjectId } from '../projects/id.ts';
import { QUEUE_NAME } from '../queue/contract.ts';
import { readNextRuns } from '../queue/next-runs.ts';
import type { QueueHandle } from '../queue/queue.ts';
import { type ConsoleActions, createConsoleActions, type ScheduleForm } from './actions.ts';
import {
  type ConsoleAccess,
  createAuth,
  isSameOrigin,
  parseCookies,
  type Role,
  type Session,
  serializeCookie,
} from './auth.ts';
import { FAVICON_ICO } from './favicon.ts';
import type { Html } from './html.ts';
import { createLoginLimiter } from './limiter.ts';
import {
  type Direction,
  listProjectsPage,
  listStaleProjects,
  loadProjectDetail,
  loadProjectSections,
  PAGE_SIZE,
  type ProjectListQuery,
  type SectionFilter,
  SORTS,
  type Sort,
} from './queries.ts';
import { parseRevenueForm, type RevenueView, revenuePage } from './revenue.ts';
import { createSessionStore } from './sessions.ts';
import { CONSOLE_CSS } from './style.ts';
import {
  BASE,
  type BudgetBound,
  fleetPage,
  loginPage,
  messagePage,
  type PageContext,
  projectPage,
  projectsPage,
} from './views.ts';

/*
 * The operator console: an express app answering under /console, mountable on any node:http
 * server (the worker's health server, or `catalog-sync console`). Server-rendered pages, no
 * client-side JavaScript of its own; Bull Board (a React app) under /console/queues.
 */

/** The events queue of the webhooks feature; shown in Bull Board when it exists in Redis. */
export const EVENTS_QUEUE_NAME = 'catalog-sync-events';

export interface ConsoleOptions {
  ctx: ServiceContext;
  access: ConsoleAccess;
  /** An open queue (its connection is shared by Bull Board, the actions and next-run look-ups). */
  queue: QueueHandle;
  /** Defaults to the implementation over today's producer, onboarding and schedules. */
  actions?: ConsoleActions;
  /** More queues for Bull Board; default: the events queue when present in Redis. */
  extraQueueNames?: string[];
}

export interface ConsoleServer {
  /** A node:http request listener for paths under /console. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

const SESSION_COOKIE = 'cs_session';
const FLASH_COOKIE = 'cs_flash';
const MAX_BODY = '16kb';

/** Pages allow only this origin; Bull Board's UI needs inline styles and its fonts. */
const PAGE_CSP =
  "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
const BOARD_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; " +
  "font-src 'self' https://fonts.gstatic.com; img-src 'self' data:; base-uri 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; object-src 'none'";

interface Locals {
  session: Session | null;
}

const localsOf = (res: Response) => res.locals as Locals;

function parseListQuery(q: Request['query']): ProjectListQuery {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const sort = text(q.sort);
  const dir = text(q.dir);
  const page = Number(text(q.page) ?? '1');
  return {
    search: text(q.q)?.slice(0, 200) || undefined,
    failingOnly: text(q.failing) === '1',
    needsActionOnly: text(q.needs) === 'action',
    sort: SORTS.includes(sort as Sort) ? (sort as Sort) : 'project',
    direction: (dir === 'desc' ? 'desc' : 'asc') as Direction,
    page: Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1,
  };
}

function parseSectionFilter(q: Request['query']): SectionFilter {
  const text = (value: unknown) =>
    typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 200) : undefined;
  const page = (value: unknown) => {
    const n = Number(text(value) ?? '1');
    return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
  };
  return {
    product: text(q.product),
    territory: text(q.territory),
    pricesPage: page(q.prices_page),
    offersPage: page(q.offers_page),
  };
}

async function openBoardQueues(options: ConsoleOptions): Promise<Queue[]> {
  const { queue: handle } = options;
  let names = options.extraQueueNames;
  if (!names) {
    const exists = await handle.redis.exists(`${handle.prefix}:${EVENTS_QUEUE_NAME}:meta`).catch(() => 0);
    names = exists ? [EVENTS_QUEUE_NAME] : [];
  }
  return names
    .filter((name) => name !== QUEUE_NAME)
    .map((name) => {
      const queue = new Queue(name, { connection: handle.redis, prefix: handle.prefix });
      queue.on('error', () => {});
      return queue;
    });
}

/** A path on this machine (a stack frame, a module path): kept from read-only sessions. */
const SERVER_PATH = /(?<![:/\w])(?:file:\/\/)?(?:\/[\w.@+-]+){2,}(?::\d+(?::\d+)?)?|[A-Za-z]:\\[^\s:)]+/g;

/**
 * What a read-only session's board shows of a job: no stack traces, and server paths masked in
 * failure reasons and logs (the operator's board shows everything).
 */
export function redactForReaders(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(SERVER_PATH, '[path]');
  if (Array.isArray(value)) return value.map(redactForReaders);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = key === 'stacktrace' ? [] : key === 'stack' ? undefined : redactForReaders(inner);
    }
    return out;
  }
  return value;
}

/** Bull Board's times in UTC, like the console's (its default is the browser's zone). */
const UTC_FORMATS = {
  short: {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
    timeZoneName: 'short',
  },
  common: {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
    timeZoneName: 'short',
  },
  full: {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
    timeZoneName: 'short',
  },
} satisfies Record<string, Intl.DateTimeFormatOptions>;

function bullBoard(queues: Queue[], readOnlyMode: boolean) {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(`${BASE}/queues`);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode })),
    // @bull-board/express 9.10.1 pins its own copy of @bull-board/api (9.10.1): same shape, distinct private fields.
    serverAdapter: adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: readOnlyMode ? 'catalog-sync · read-only' : 'catalog-sync',
        hideDocsLink: true,
        miscLinks: [{ text: 'Projects', url: `${BASE}/projects` }],
        dateFormats: UTC_FORMATS,
        favIcon: { default: `${BASE}/favicon.ico`, alternative: `${BASE}/favicon.ico` },
        // Room for the whole title (the default menu cuts "(read-only)" off).
        menu: { width: '300px' },
        ...(readOnlyMode ? { hideRedisDetails: true } : {}),
      },
      ...(readOnlyMode
        ? {
            handlerHooks: {
              after: <R extends { body: unknown }>(_context: unknown, result: R): R => ({
                ...result,
                body: redactForReaders(result.body),
              }),
            },
          }
        : {}),
    },
  });
  return adapter.getRouter() as express.Router;
}

export async function createConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const { ctx } = options;
  const logger = ctx.logger.child({ component: 'console' });
  const auth = createAuth(options.access);
  const actions =
    options.actions ??
    createConsoleActions({
      ...ctx,
      queue: async () => options.queue,
      queueEvents: () =>
        Promise.reject(new AppError('unsupported', 'The console queues work; it does not wait for it.')),
    });
  const extraQueues = await openBoardQueues(options);
  const boardQueues = [options.queue.queue as unknown as Queue, ...extraQueues];
  const boards = { write: bullBoard(boardQueues, false), read: bullBoard(boardQueues, true) };
  const sessions = createSessionStore(ctx.db, auth);
  // Sessions of tokens no longer in force, and expired ones, go at start.
  await sessions
    .purge()
    .catch((error: unknown) => logger.warn({ err: error }, 'console: old sessions not purged'));
  const limiter = createLoginLimiter();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const isSecure = (req: Request) => req.secure || req.get('x-forwarded-proto') === 'https';
  const setCookie = (req: Request, res: Response, name: string, value: string, maxAgeSeconds: number) =>
    res.append(
      'Set-Cookie',
      serializeCookie(name, value, { path: BASE, secure: isSecure(req), maxAgeSeconds }),
    );

  const pageContext = (req: Request, res: Response): PageContext => {
    const session = localsOf(res).session;
    let flash: PageContext['flash'] = null;
    const signed = auth.unsign(parseCookies(req.headers.cookie)[FLASH_COOKIE]);
    if (signed) {
      try {
        flash = JSON.parse(Buffer.from(signed, 'base64url').toString('utf8')) as PageContext['flash'];
      } catch {
        flash = null;
      }
      setCookie(req, res, FLASH_COOKIE, '', 0);
    }
    return { role: session?.role ?? null, csrf: session ? auth.csrfToken(session) : null, flash };
  };
  const send = (res: Response, status: number, page: Html) =>
    res.status(status).type('html').send(page.value);
  const redirectWithFlash = (
    req: Request,
    res: Response,
    to: string,
    flash: { kind: 'ok' | 'error'; text: string },
  ) => {
    const value = auth.sign(Buffer.from(JSON.stringify(flash), 'utf8').toString('base64url'));
    setCookie(req, res, FLASH_COOKIE, value, 60);
    res.redirect(303, to);
  };

  // Every response: no caching, no framing, no sniffing, no referrer, this origin only.
  app.use((req, res, next) => {
    res.set({
      'Content-Security-Policy': req.path.startsWith(`${BASE}/queues`) ? BOARD_CSP : PAGE_CSP,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      // Not no-referrer: with it, browsers send `Origin: null` on POSTs and the same-origin check fails.
      'Referrer-Policy': 'same-origin',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    sessions.resume(parseCookies(req.headers.cookie)[SESSION_COOKIE]).then(
      (session) => {
        localsOf(res).session = session;
        next();
      },
      (error: unknown) => {
        localsOf(res).session = null;
        next(error);
      },
    );
  });

  // Browsers ask for /favicon.ico on their own; the pages point at /console/favicon.ico.
  app.get(['/favicon.ico', `${BASE}/favicon.ico`], (_req, res) => {
    res.type('image/x-icon').set('Cache-Control', 'public, max-age=86400').send(FAVICON_ICO);
  });

  app.get(`${BASE}/static/console.css`, (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=300').send(CONSOLE_CSS);
  });

  app.get(`${BASE}/login`, (req, res) => {
    if (localsOf(res).session) return res.redirect(303, `${BASE}/projects`);
    send(res, 200, loginPage(pageContext(req, res), null));
  });

  const urlencoded = express.urlencoded({ extended: false, limit: MAX_BODY, parameterLimit: 20 });

  app.post(`${BASE}/login`, urlencoded, async (req, res) => {
    const ctxPage: PageContext = { role: null, csrf: null };
    if (!isSameOrigin(req.headers as Record<string, string | undefined>)) {
      return send(res, 403, loginPage(ctxPage, 'Refused: the login form must be sent from this console.'));
    }
    const client = req.socket.remoteAddress ?? 'unknown';
    // After repeated wrong tokens from this address, each attempt waits its turn; a right token
    // still gets in after the wait (and from any other address at once).
    const admission = limiter.admit(client);
    if ('refused' in admission) {
      res.set('Retry-After', String(Math.ceil(admission.retryAfterMs / 1000)));
      return send(
        res,
        429,
        loginPage(ctxPage, 'Too many attempts from this address are waiting; try again in a few minutes.'),
      );
    }
    if (admission.wait > 0) await sleep(admission.wait);
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    const role = auth.checkToken(token);
    if (!role) {
      limiter.failed(client);
      logger.warn({ client }, 'console login refused: wrong token');
      return send(res, 401, loginPage(ctxPage, 'Wrong token.'));
    }
    limiter.succeeded(client);
    const { cookie } = await sessions.begin(role);
    setCookie(req, res, SESSION_COOKIE, cookie, Math.floor(options.access.sessionTtlMs / 1000));
    logger.info({ role, client }, 'console login');
    res.redirect(303, `${BASE}/projects`);
  });

  // Everything below needs a session.
  app.use(BASE, (req, res, next) => {
    if (localsOf(res).session) return next();
    if (req.method === 'GET' || req.method === 'HEAD') {
      // Bull Board's API calls get a status, pages a redirect to the login form.
      if (req.path.startsWith('/queues/api')) return res.status(401).json({ error: 'log in first' });
      return res.redirect(303, `${BASE}/login`);
    }
    res.status(401).type('text').send('Log in first.\n');
  });

  /** POSTs: same origin and the session's CSRF token; actions also need the write role. */
  const guardPost = (needs: Role | null) => (req: Request, res: Response, next: NextFunction) => {
    const session = localsOf(res).session!;
    const origin = isSameOrigin(req.headers as Record<string, string | undefined>);
    const token =
      typeof req.body === 'object' && req.body !== null
        ? (req.body as Record<string, unknown>).csrf
        : undefined;
    if (!origin || !auth.checkCsrf(session, token)) {
      logger.warn(
        { path: req.path, origin: req.headers.origin ?? null },
        'console: cross-site request refused',
      );
      return send(
        res,
        403,
        messagePage(
          pageContext(req, res),
          'Refused',
          'This request did not come from a console page (cross-site request refused).',
        ),
      );
    }
    if (needs === 'write' && session.role !== 'write') {
      return send(
        res,
        403,
        messagePage(
          pageContext(req, res),
          'Read-only',
          'This session is read-only: log in with the operator token to act.',
        ),
      );
    }
    next();
  };

  app.post(`${BASE}/logout`, urlencoded, guardPost(null), async (req, res, next) => {
    try {
      // The row goes: the cookie, wherever a copy of it is, no longer opens a session.
      await sessions.end(localsOf(res).session!);
      setCookie(req, res, SESSION_COOKIE, '', 0);
      res.redirect(303, `${BASE}/login`);
    } catch (error) {
      next(error);
    }
  });

  app.get([BASE, `${BASE}/`], (_req, res) => res.redirect(303, `${BASE}/projects`));

  app.get(`${BASE}/projects`, async (req, res, next) => {
    try {
      const query = parseListQuery(req.query);
      const page = await listProjectsPage(ctx.db, query);
      const scheduled = page.rows.filter((r) => r.scheduleEverySeconds || r.scheduleCron).map((r) => r.id);
      const nextRuns = await nextRunsOf(options.queue, scheduled);
      send(res, 200, projectsPage(pageContext(req, res), { query, page, nextRuns, pageSize: PAGE_SIZE }));
    } catch (error) {
      next(error);
    }
  });

  app.get(`${BASE}/fleet`, async (req, res, next) => {
    try {
      const [stale, bound] = await Promise.all([
        listStaleProjects(ctx.db, ctx.config.details.maxAgeMs),
        budgetBoundOf(options.queue),
      ]);
      send(
        res,
        200,
        fleetPage(pageContext(req, res), { stale, bound, maxAgeMs: ctx.config.details.maxAgeMs }),
      );
    } catch (error) {
      next(error);
    }
  });

  const projectIdOf = (req: Request) => {
    try {
      return parseProjectId(String(req.params.id ?? ''));
    } catch {
      return null;
    }
  };

  app.get(`${BASE}/projects/:id`, async (req, res, next) => {
    try {
      const id = projectIdOf(req);
      const before = Number(req.query.changesBefore);
      const filter = parseSectionFilter(req.query);
      const run = typeof req.query.run === 'string' ? req.query.run : undefined;
      // The detail sections load alongside the page's own queries; each one settles on its own.
      const [detail, sections] = id
        ? await Promise.all([
            loadProjectDetail(ctx.db, id, {
              changesBefore: Number.isInteger(before) && before > 0 ? before : undefined,
              changesRun: run,
            }),
            loadProjectSections({ ...ctx, logger }, id, filter),
          ])
        : [null, null];
      if (!detail || !sections) {
        return send(
          res,
          404,
          messagePage(pageContext(req, res), 'Not found', `No project ${String(req.params.id)}.`),
        );
      }
      const scheduled = detail.project.scheduleEverySeconds || detail.project.scheduleCron;
      const nextRuns = scheduled ? await nextRunsOf(options.queue, [detail.project.id]) : new Map();
      // Without an app, the picker offers the apps the key saw at its last check.
      const apps = detail.project.appStoreId
        ? null
        : await actions.apps(detail.project.id).catch((error: unknown) => {
            logger.warn({ err: error, projectId: detail.project.id }, 'console: apps not listed');
            return undefined;
          });
      send(
        res,
        200,
        projectPage(pageContext(req, res), {
          detail,
          sections,
          nextRun: nextRuns?.get(detail.project.id) ?? (nextRuns ? null : undefined),
          apps,
          filter,
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  app.get(`${BASE}/projects/:id/revenue`, async (req, res, next) => {
    const id = projectIdOf(req);
    if (!id) return send(res, 404, messagePage(pageContext(req, res), 'Not found', 'No such project.'));
    const { form, error } = parseRevenueForm(req.query as Record<string, unknown>, new Date());
    const view: RevenueView = { projectId: id, form, error, periods: null, products: null };
    if (error) return send(res, 400, revenuePage(pageContext(req, res), view));
    try {
      // The one implementation (src/app): per period for the charts over time, per product beside.
      const input = { projectId: id, from: form.from, to: form.to, environment: form.environment };
      const [periods, products] = await Promise.all([
        revenue(ctx, { ...input, by: form.by }),
        revenue(ctx, { ...input, by: 'product' }),
      ]);
      send(res, 200, revenuePage(pageContext(req, res), { ...view, periods, products }));
    } catch (failure) {
      if (failure instanceof NotFoundError) {
        return send(res, 404, messagePage(pageContext(req, res), 'Not found', `No project ${id}.`));
      }
      if (failure instanceof InvalidInputError) {
        const shown = { field: failure.field, message: `${failure.field}: ${failure.reason}` };
        return send(res, 400, revenuePage(pageContext(req, res), { ...view, error: shown }));
      }
      next(failure);
    }
  });

  const action =
    (
      name: string,
      run: (
        projectId: string,
        body: Record<string, unknown>,
      ) => Promise<{ message: string; kind?: 'ok' | 'error' }>,
    ) =>
    async (req: Request, res: Response) => {
      const id = projectIdOf(req);
      const back = `${BASE}/projects/${encodeURIComponent(id ?? '')}`;
      if (!id) return send(res, 404, messagePage(pageContext(req, res), 'Not found', 'No such project.'));
      try {
        const result = await run(id, (req.body ?? {}) as Record<string, unknown>);
        logger.info({ projectId: id, action: name }, 'console action');
        redirectWithFlash(req, res, back, { kind: result.kind ?? 'ok', text: result.message });
      } catch (error) {
        const known = error instanceof AppError;
        if (!known) logger.error({ err: error, projectId: id, action: name }, 'console action failed');
        const text = known
          ? scrubSecrets(errorMessage(error))
          : `The ${name} action failed unexpectedly; the worker's log has the details.`;
        redirectWithFlash(req, res, back, { kind: 'error', text });
      }
    };

  const field = (body: Record<string, unknown>, name: string) => {
    const value = body[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  app.post(
    `${BASE}/projects/:id/sync`,
    urlencoded,
    guardPost('write'),
    action('sync', (id) => actions.syncNow(id)),
  );
  app.post(
    `${BASE}/projects/:id/verify`,
    urlencoded,
    guardPost('write'),
    action('verify', (id) => actions.verify(id)),
  );
  app.post(
    `${BASE}/projects/:id/schedule`,
    urlencoded,
    guardPost('write'),
    action('schedule', async (id, body) => {
      const every = field(body, 'every');
      const cron = field(body, 'cron');
      if ((every === undefined) === (cron === undefined)) {
        throw new AppError(
          'invalid_input',
          'Give exactly one of "every" (e.g. 6h) or "cron" (e.g. 0 */6 * * *).',
        );
      }
      const form: ScheduleForm = every !== undefined ? { every } : { cron: cron! };
      return actions.setSchedule(id, form);
    }),
  );
  app.post(
    `${BASE}/projects/:id/app`,
    urlencoded,
    guardPost('write'),
    action('app', (id, body) => actions.selectApp(id, field(body, 'appStoreId') ?? '')),
  );
  app.post(
    `${BASE}/projects/:id/unschedule`,
    urlencoded,
    guardPost('write'),
    action('unschedule', (id) => actions.removeSchedule(id)),
  );

  // Bull Board: the read-only board for read-only sessions; its writes (retry, clean, add) need
  // the operator role and a same-origin request (its UI sends JSON with fetch, never a form).
  app.use(`${BASE}/queues`, (req, res, next) => {
    const session = localsOf(res).session!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (!isSameOrigin(req.headers as Record<string, string | undefined>)) {
        return res.status(403).json({ error: 'cross-site request refused' });
      }
      if (session.role !== 'write') return res.status(403).json({ error: 'read-only session' });
    }
    boards[session.role](req, res, next);
  });

  app.use(BASE, (req, res) => {
    send(res, 404, messagePage(pageContext(req, res), 'Not found', 'There is no such page in the console.'));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error, path: req.path }, 'console page failed');
    if (res.headersSent) return;
    send(
      res,
      500,
      messagePage(
        pageContext(req, res),
        'Error',
        'This page could not be shown; the worker\u2019s log has the details.',
      ),
    );
  });

  return {
    handle: (req, res) => app(req as Request, res as Response),
    close: async () => {
      await Promise.all(extraQueues.map((q) => q.close().catch(() => {})));
    },
  };
}

/**
 * The projects whose latest sync (among the completed jobs the queue keeps, a day at most)
 * stopped reading details for the key's budget or Apple's rate limit. Undefined when Redis
 * cannot be read.
 */
async function budgetBoundOf(handle: QueueHandle): Promise<Map<string, BudgetBound> | undefined> {
  try {
    return budgetBoundFrom(await handle.queue.getJobs(['completed'], 0, 999, false));
  } catch {
    return undefined;
  }
}

/** Per project, its latest completed sync job if that one stopped reading details (pure). */
export function budgetBoundFrom(
  jobs: { name: string; data: unknown; returnvalue: unknown; finishedOn?: number | undefined }[],
): Map<string, BudgetBound> {
  const latest = new Map<string, BudgetBound>();
  const seen = new Set<string>();
  for (const job of [...jobs].sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))) {
    const projectId = (job.data as { projectId?: unknown } | undefined)?.projectId;
    if (job.name !== 'sync-catalog' || typeof projectId !== 'string' || seen.has(projectId)) continue;
    seen.add(projectId);
    const details = (job.returnvalue as { details?: { stoppedBy?: unknown; deferred?: unknown } } | null)
      ?.details;
    if (details && (details.stoppedBy === 'budget' || details.stoppedBy === 'rate_limited')) {
      latest.set(projectId, {
        stoppedBy: details.stoppedBy,
        deferred: typeof details.deferred === 'number' ? details.deferred : null,
        at: job.finishedOn ? new Date(job.finishedOn) : null,
      });
    }
  }
  return latest;
}

/**
 * Next planned run of each scheduled project (one ZMSCORE for the page, as `schedules` reads it).
 * Undefined when Redis cannot be read: the page still renders, saying so.
 */
async function nextRunsOf(
  handle: QueueHandle,
  projectIds: string[],
): Promise<Map<string, Date | null> | undefined> {
  try {
    const runs = await readNextRuns(handle, projectIds);
    return new Map([...runs].map(([id, at]) => [id, at === null ? null : new Date(at)]));
  } catch {
    return undefined;
  }
}
