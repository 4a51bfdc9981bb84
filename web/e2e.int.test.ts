// The web client in a real browser (Debian's Chromium driven by playwright-core): two users on
// two gateway nodes chat both ways, see delivered/read ticks, unread badges, typing and whether
// the other is online; one edits and deletes a message and both react, and the other page shows
// "edited" with the new text, "message deleted" with the text gone and the counts; a channel
// is created and joined by id; markup sent as text shows literally and runs nothing; one user's
// network drops (a TCP proxy in front of their node is cut): what they write meanwhile stays
// pending and goes out after the reconnection, what they missed arrives by sync, and the other
// page shows them offline meanwhile; after a reload, history pages back over REST with the
// changes in place; a pasted token signs in, and out again at its expiry.
//
// Chromium must be installed (`apt-get install chromium`; .ci/run does it). If it cannot be
// launched this file fails: a browser test that silently skips proves nothing.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, clientMsgId } from '../server/test/support/chat.js';
import { startCluster, type Cluster } from '../server/test/support/cluster.js';
import { CONTRACT_WARNING } from './src/api.js';
import { buildWeb } from './build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SCREENSHOT = join(ROOT, 'docs', 'screenshot.png');
const XSS = '<img src=x onerror="window.__xss=1">';
const WAIT = { timeout: 10_000 };

/** A TCP proxy in front of a node: `cut()` drops every connection and refuses new ones until `restore()`. */
async function startProxy(targetPort: number) {
  const open = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('web client end to end (Chromium, two nodes)', () => {
  let cluster: Cluster;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let alice: Page;
  let bob: Page;
  /** Page errors and protocol contract warnings from either page: must stay empty. */
  const problems: string[] = [];
  let directId = '';

  beforeAll(async () => {
    await buildWeb();
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (.ci/run installs it), or set CHROMIUM_PATH`);
    // Playwright gives each launch a fresh temporary profile (--user-data-dir) and removes it on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
    cluster = await startCluster({ nodes: 2, env: { DEV_LOGIN: '1' } });
    proxy = await startProxy(cluster.nodes[1]!.port);

    const page = async (name: string) => {
      const context = await browser.newContext({ viewport: { width: 1180, height: 720 } });
      contexts.push(context);
      const p = await context.newPage();
      p.on('pageerror', (err) => problems.push(`${name} page error: ${err.message}`));
      p.on('console', (msg) => {
        if (msg.text().startsWith(CONTRACT_WARNING)) problems.push(`${name}: ${msg.text()}`);
      });
      return p;
    };
    alice = await page('alice');
    bob = await page('bob');
  }, 60_000);

  // The steps build on each other: after a failure the rest are skipped, not timed out one by one.
  let failed = false;
  beforeEach((ctx) => {
    if (failed) ctx.skip();
  });

  // A failed step leaves both pages as pictures in test-results/ for whoever has to debug it.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    failed = true;
    const dir = join(ROOT, 'test-results');
    mkdirSync(dir, { recursive: true });
    const slug = ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
    for (const [name, p] of [['alice', alice], ['bob', bob]] as const) await p?.screenshot({ path: join(dir, `e2e-${slug}-${name}.png`) }).catch(() => {});
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await proxy?.close();
    await cluster?.close();
  });

  const conn = (p: Page) => p.getByTestId('connection');
  const messageRow = (p: Page, text: string) => p.getByTestId('message').filter({ has: p.getByTestId('message-text').getByText(text, { exact: true }) });
  const tickOf = (p: Page, text: string, tick: string) => messageRow(p, text).locator(`[data-testid=tick][data-tick="${tick}"]`);
  const conversation = (p: Page, title: string) => p.getByTestId('conversation').filter({ has: p.getByTestId('conversation-title').getByText(title) });
  const reaction = (p: Page, text: string, emoji: string) => messageRow(p, text).locator(`[data-testid=reaction][data-emoji="${emoji}"]`);
  const peerDot = (p: Page, title: string, online: boolean | 'unknown') => conversation(p, title).locator(`[data-testid=presence][data-online="${online}"]`);

  async function signIn(p: Page, url: string, name: string) {
    const res = await p.goto(url);
    // Served as files under helmet's default CSP: no inline script could run.
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await p.getByTestId('login-name').fill(name);
    await p.getByTestId('login-submit').click();
    await p.locator('[data-testid=connection][data-state=online]').waitFor(WAIT);
    expect(await p.getByTestId('me').textContent()).toBe(name);
  }

  async function send(p: Page, text: string) {
    await p.getByTestId('composer').fill(text);
    await p.getByTestId('composer').press('Enter');
    await messageRow(p, text).waitFor(WAIT);
  }

  it('serves the page from each node and signs two users in on different nodes', async () => {
    await signIn(alice, cluster.nodes[0]!.url, 'alice');
    await signIn(bob, proxy.url, 'bob');
  });

  it('starts a direct chat; delivered tick and unread badge before bob opens it, read tick after', async () => {
    await alice.getByTestId('new-name').fill('bob');
    await alice.getByTestId('new-submit').click();
    await alice.getByTestId('thread-title').getByText('bob').waitFor(WAIT);
    directId = (await alice.getByTestId('thread-id').textContent()) ?? '';
    expect(directId).toMatch(/^[A-Za-z0-9_-]+$/);
    await conversation(bob, 'alice').waitFor(WAIT);

    await send(alice, 'hello bob');
    await tickOf(alice, 'hello bob', 'delivered').waitFor(WAIT);
    await conversation(bob, 'alice').getByTestId('unread').getByText('1', { exact: true }).waitFor(WAIT);

    await conversation(bob, 'alice').click();
    await messageRow(bob, 'hello bob').waitFor(WAIT);
    await tickOf(alice, 'hello bob', 'read').waitFor(WAIT);
    await conversation(bob, 'alice').getByTestId('unread').waitFor({ state: 'detached', ...WAIT });
  });

  it('replies the other way, with read ticks', async () => {
    await send(bob, 'hi alice');
    await messageRow(alice, 'hi alice').waitFor(WAIT);
    await tickOf(bob, 'hi alice', 'read').waitFor(WAIT);
  });

  it('shows markup sent as text literally and runs nothing', async () => {
    await send(bob, XSS);
    const row = messageRow(alice, XSS);
    await row.waitFor(WAIT);
    expect(await row.getByTestId('message-text').textContent()).toBe(XSS);
    for (const p of [alice, bob]) {
      expect(await p.getByTestId('messages').locator('img').count()).toBe(0);
      expect(await p.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    }
  });

  it('shows who is typing', async () => {
    await bob.getByTestId('composer').pressSequentially('still there?');
    await alice.getByTestId('typing').getByText('bob is typing…').waitFor(WAIT);
    await bob.getByTestId('composer').fill('');
    await alice.getByTestId('typing').getByText('bob is typing…').waitFor({ state: 'detached', ...WAIT });
  });

  it('shows a green dot for the direct-chat peer who is online, in the list and the header', async () => {
    await peerDot(alice, 'bob', true).waitFor(WAIT);
    await peerDot(bob, 'alice', true).waitFor(WAIT);
    await alice.getByTestId('thread-presence').locator('[data-testid=member-presence][data-user=bob] [data-online=true]').waitFor(WAIT);
  });

  let lunchSeq = '';
  let oopsSeq = '';
  it('edits and deletes: the other page shows "edited" with the new text, and "message deleted" with the text gone', async () => {
    await send(alice, 'lunch at noon?');
    await send(alice, 'oops, wrong chat');
    await messageRow(bob, 'oops, wrong chat').waitFor(WAIT);
    lunchSeq = (await messageRow(bob, 'lunch at noon?').getAttribute('data-seq')) ?? '';
    oopsSeq = (await messageRow(bob, 'oops, wrong chat').getAttribute('data-seq')) ?? '';
    expect(Number(oopsSeq)).toBeGreaterThan(Number(lunchSeq));
    // Only my own messages offer an edit.
    expect(await messageRow(bob, 'lunch at noon?').getByTestId('edit').count()).toBe(0);

    // The composer turns into an edit box for the message.
    await messageRow(alice, 'lunch at noon?').getByTestId('edit').click();
    await alice.getByTestId('edit-bar').waitFor(WAIT);
    expect(await alice.getByTestId('composer').inputValue()).toBe('lunch at noon?');
    await alice.getByTestId('composer').fill('lunch at one?');
    await alice.getByTestId('composer').press('Enter');
    await alice.getByTestId('edit-bar').waitFor({ state: 'hidden', ...WAIT });

    const edited = bob.locator(`[data-testid=message][data-seq="${lunchSeq}"]`);
    await edited.getByTestId('edited').waitFor(WAIT);
    expect(await edited.getByTestId('message-text').textContent()).toBe('lunch at one?');
    expect(await messageRow(bob, 'lunch at noon?').count()).toBe(0);
    await messageRow(alice, 'lunch at one?').getByTestId('edited').waitFor(WAIT);
    // An edit is not a new message: no second row, no unread.
    expect(await bob.getByTestId('message').filter({ hasText: 'lunch at' }).count()).toBe(1);

    // Deleting asks twice.
    const oops = messageRow(alice, 'oops, wrong chat');
    await oops.getByTestId('delete').click();
    await oops.getByTestId('delete').and(alice.locator('[data-confirm]')).click();
    const deleted = bob.locator(`[data-testid=message][data-seq="${oopsSeq}"][data-deleted=true]`);
    await deleted.waitFor(WAIT);
    expect(await deleted.getByTestId('message-text').textContent()).toBe('message deleted');
    for (const p of [alice, bob]) await p.getByTestId('messages').getByText('oops, wrong chat').waitFor({ state: 'detached', ...WAIT });
    await alice.locator(`[data-testid=message][data-seq="${oopsSeq}"][data-deleted=true]`).waitFor(WAIT);
    // It was the last message: the list's preview follows.
    await conversation(bob, 'alice').getByText('alice: message deleted').waitFor(WAIT);
    expect(await conversation(bob, 'alice').getByText('oops').count()).toBe(0);
  });

  it('reacts: counts per emoji on both pages, a click on a count toggles my own reaction', async () => {
    await messageRow(alice, 'hi alice').locator('[data-testid=react][data-emoji="👍"]').click();
    await reaction(bob, 'hi alice', '👍').and(bob.locator('[data-count="1"][data-mine=false]')).waitFor(WAIT);
    expect(await reaction(bob, 'hi alice', '👍').textContent()).toBe('👍 1');
    await reaction(alice, 'hi alice', '👍').and(alice.locator('[data-mine=true]')).waitFor(WAIT);

    // Bob adds his to the count, and a second emoji.
    await reaction(bob, 'hi alice', '👍').click();
    await reaction(alice, 'hi alice', '👍').and(alice.locator('[data-count="2"]')).waitFor(WAIT);
    await reaction(bob, 'hi alice', '👍').and(bob.locator('[data-count="2"][data-mine=true]')).waitFor(WAIT);
    await messageRow(bob, 'hi alice').locator('[data-testid=react][data-emoji="🎉"]').click();
    await reaction(alice, 'hi alice', '🎉').and(alice.locator('[data-count="1"]')).waitFor(WAIT);

    // Alice takes hers off again: one left, bob's.
    await reaction(alice, 'hi alice', '👍').click();
    await reaction(bob, 'hi alice', '👍').and(bob.locator('[data-count="1"][data-mine=true]')).waitFor(WAIT);
    await reaction(alice, 'hi alice', '👍').and(alice.locator('[data-count="1"][data-mine=false]')).waitFor(WAIT);
    // Reactions are not messages: nothing unread, no new rows.
    expect(await messageRow(bob, 'hi alice').count()).toBe(1);
  });

  it('creates a public channel that the other user joins by id, and a group with a member', async () => {
    await alice.getByTestId('new-type').selectOption('channel');
    await alice.getByTestId('new-name').fill('announcements');
    await alice.getByTestId('new-public').check();
    await alice.getByTestId('new-submit').click();
    await alice.getByTestId('thread-title').getByText('announcements').waitFor(WAIT);
    const channelId = (await alice.getByTestId('thread-id').textContent()) ?? '';
    await send(alice, 'before bob joined');

    await bob.getByTestId('join-id').fill(channelId);
    await bob.getByTestId('join-submit').click();
    await bob.getByTestId('thread-title').getByText('announcements').waitFor(WAIT);
    await messageRow(bob, 'you joined').waitFor(WAIT);
    expect(await bob.getByTestId('composer').isDisabled()).toBe(true); // members read, owners post
    await messageRow(alice, 'bob joined').waitFor(WAIT);
    await send(alice, 'welcome to the channel');
    await messageRow(bob, 'welcome to the channel').waitFor(WAIT);
    // A member sees only what was sent while a member (PROTOCOL.md §3).
    expect(await messageRow(bob, 'before bob joined').count()).toBe(0);

    await alice.getByTestId('new-type').selectOption('group');
    await alice.getByTestId('new-name').fill('team');
    await alice.getByTestId('new-members').fill('bob');
    await alice.getByTestId('new-submit').click();
    await alice.getByTestId('thread-title').getByText('team').waitFor(WAIT);
    await conversation(bob, 'team').waitFor(WAIT);
  });

  it('takes the screenshot', async () => {
    await conversation(alice, 'bob').click();
    await conversation(bob, 'team').click();
    await send(bob, 'standup at 10?');
    await conversation(alice, 'team').getByTestId('unread').getByText('1', { exact: true }).waitFor(WAIT);
    await conversation(bob, 'alice').click();
    await messageRow(alice, XSS).waitFor(WAIT);
    await bob.getByTestId('composer').pressSequentially('see you');
    await alice.getByTestId('typing').getByText('bob is typing…').waitFor(WAIT);
    const shot = join(ROOT, 'test-results', 'web-client.png');
    mkdirSync(dirname(shot), { recursive: true });
    await alice.screenshot({ path: shot });
    // The committed picture changes only when asked, so a test run leaves the work tree clean.
    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(SCREENSHOT)) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      copyFileSync(shot, SCREENSHOT);
    }
    await bob.getByTestId('composer').fill('');
  });

  it('shows the drop, reconnects and syncs what was sent meanwhile', async () => {
    proxy.cut();
    await bob.locator('[data-testid=connection][data-state=offline]').waitFor(WAIT);
    // Bob's node saw his only socket close: alice's page shows him offline; bob's page no longer knows.
    await peerDot(alice, 'bob', false).waitFor(WAIT);
    await peerDot(bob, 'alice', 'unknown').waitFor(WAIT);
    await send(alice, 'sent while you were offline');
    await tickOf(alice, 'sent while you were offline', 'sent').waitFor(WAIT);
    // A change made meanwhile reaches bob through the same sync.
    await messageRow(alice, 'lunch at one?').getByTestId('edit').click();
    await alice.getByTestId('composer').fill('lunch at two?');
    await alice.getByTestId('composer').press('Enter');
    await messageRow(alice, 'lunch at two?').waitFor(WAIT);
    // Bob writes while offline: shown at once as pending, sent after the reconnection.
    await send(bob, 'written while offline');
    await tickOf(bob, 'written while offline', 'pending').waitFor(WAIT);
    expect(await messageRow(bob, 'sent while you were offline').count()).toBe(0);

    proxy.restore();
    await bob.locator('[data-testid=connection][data-state=online]').waitFor({ timeout: 15_000 });
    await messageRow(bob, 'sent while you were offline').waitFor(WAIT);
    await peerDot(alice, 'bob', true).waitFor(WAIT);
    // Bob's new socket watches alice again.
    await peerDot(bob, 'alice', true).waitFor(WAIT);
    await bob.locator(`[data-testid=message][data-seq="${lunchSeq}"]`).getByText('lunch at two?', { exact: true }).waitFor(WAIT);
    await tickOf(alice, 'sent while you were offline', 'read').waitFor(WAIT);
    await messageRow(alice, 'written while offline').waitFor(WAIT);
    await tickOf(bob, 'written while offline', 'read').waitFor(WAIT);
    expect(await messageRow(alice, 'written while offline').count()).toBe(1);
  });

  it('pages back through history after a reload', async () => {
    const socket = await cluster.connect('alice', 0);
    for (let i = 1; i <= 40; i++) await call(socket, 'message:send', { conversationId: directId, clientMsgId: clientMsgId('h'), kind: 'text', text: `bulk ${i}` });
    socket.close();
    await messageRow(bob, 'bulk 40').waitFor(WAIT);

    await bob.reload();
    await bob.locator('[data-testid=connection][data-state=online]').waitFor(WAIT);
    expect(await bob.getByTestId('me').textContent()).toBe('bob');
    await conversation(bob, 'alice').click();
    await messageRow(bob, 'bulk 40').waitFor(WAIT);
    expect(await messageRow(bob, 'hello bob').count()).toBe(0);
    await bob.getByTestId('load-older').click();
    await messageRow(bob, 'hello bob').waitFor(WAIT);
    // History over REST holds each message as it is now.
    expect(await bob.locator(`[data-testid=message][data-seq="${lunchSeq}"]`).getByTestId('message-text').textContent()).toBe('lunch at two?');
    expect(await bob.locator(`[data-testid=message][data-seq="${lunchSeq}"]`).getByTestId('edited').count()).toBe(1);
    expect(await bob.locator(`[data-testid=message][data-seq="${oopsSeq}"][data-deleted=true]`).count()).toBe(1);
    expect(await bob.getByTestId('messages').getByText('oops, wrong chat').count()).toBe(0);
    expect(await reaction(bob, 'hi alice', '👍').getAttribute('data-count')).toBe('1');
    expect(await reaction(bob, 'hi alice', '🎉').getAttribute('data-count')).toBe('1');
    const seqs = await bob.getByTestId('message').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seq)));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('signs in with a pasted token and back out when the server expires it', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const carol = await context.newPage();
    carol.on('pageerror', (err) => problems.push(`carol page error: ${err.message}`));
    await carol.goto(cluster.nodes[0]!.url);
    await carol.getByText('Sign in with a token instead').click();
    // Long enough to sign in on a loaded machine before it expires.
    await carol.locator('#login-token').fill(cluster.token('carol', { expiresInSec: 8 }));
    await carol.getByRole('button', { name: 'Use this token' }).click();
    await carol.locator('[data-testid=connection][data-state=online]').waitFor(WAIT);
    expect(await carol.getByTestId('me').textContent()).toBe('carol');
    // At exp the server sends session:expired and disconnects; a pasted token cannot be renewed.
    await carol.getByTestId('login-error').getByText('your token has expired; sign in again').waitFor({ timeout: 20_000 });
    expect(await carol.getByTestId('login-name').isVisible()).toBe(true);
  });

  it('raised no page errors and no protocol contract warnings', () => {
    expect(problems).toEqual([]);
  });
});
