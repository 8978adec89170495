// Chat: messages through OpenVidu signals, shown with the sender's names from the server's connection
// data, as plain text, with an unread count, a length limit said in words; signals from a modified client
// (too long, of an unknown type, claiming other names) change nothing else. Also writes screenshots of a
// call with the chat open, desktop and phone, under test-results/.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, openPanel, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 14000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

async function send(page: Page, text: string) {
  await openPanel(page, 'Chat');
  await page.getByLabel('Message').fill(text);
  await page.getByLabel('Message').press('Enter');
  await expect(page.getByLabel('Message')).toHaveValue('');
}

function messages(page: Page) {
  return page.getByTestId('chat-message');
}

test.describe.serial('chat', () => {
  let a: Page, b: Page;
  const call = 'Chat';

  test('B sees A\'s messages with A\'s names, markup as text, and counts them while the chat is closed', async ({ browser }) => {
    a = await loggedInPage(browser, server.url, 'publisher1');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(a, call, 'Ada');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(b, 'publisher1'));

    await send(a, '<b>hello</b>');
    await expect(b.getByTestId('unread')).toHaveText('1 unread');
    await send(a, 'second');
    await expect(b.getByTestId('unread')).toHaveText('2 unread');
    // The sender's own message comes back to the sender, marked as theirs, and is not "unread" there.
    await expect(messages(a)).toHaveCount(2);
    await expect(messages(a).first().getByTestId('chat-user')).toHaveText('publisher1 (you)');
    await expect(a.getByTestId('unread')).toHaveCount(0);

    await openPanel(b, 'Chat');
    // The cursor is in the message box, ready to answer.
    await expect(b.getByLabel('Message')).toBeFocused();
    await expect(b.getByTestId('unread')).toHaveCount(0);
    await expect(messages(b)).toHaveCount(2);
    const first = messages(b).first();
    await expect(first.getByTestId('chat-nickname')).toHaveText('Ada');
    await expect(first.getByTestId('chat-user')).toHaveText('publisher1');
    await expect(first.getByTestId('chat-text')).toHaveText('<b>hello</b>');
    await expect(first.locator('time')).toHaveText(/^\d\d:\d\d$/);
    await expect(b.getByTestId('chat').locator('b')).toHaveCount(0);
    // While the chat is open, nothing counts as unread.
    await send(a, 'third');
    await expect(messages(b)).toHaveCount(3);
    await expect(b.getByTestId('unread')).toHaveCount(0);
  });

  test('a message over the limit is refused with a sentence, and nothing is sent', async () => {
    await openPanel(a, 'Chat');
    await a.getByLabel('Message').fill('x'.repeat(501));
    await expect(a.getByTestId('chat-limit')).toHaveText(/at most 500 characters; this one has 501/);
    await expect(a.getByTestId('chat').getByRole('button', { name: 'Send' })).toBeDisabled();
    await a.getByLabel('Message').press('Enter');
    await a.getByLabel('Message').fill('fits');
    await a.getByLabel('Message').press('Enter');
    await expect(messages(b).last().getByTestId('chat-text')).toHaveText('fits');
    await expect(messages(b)).toHaveCount(4);
  });

  test('signals from a modified client: too long, unknown, or claiming names, break nothing', async () => {
    // A second connection from A's browser, driving openvidu-browser by hand as a modified client would.
    await a.evaluate(async (call) => {
      const res = await fetch('/api/get-token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ call }),
      });
      const ticket = await res.json();
      const OV = (window as unknown as { OpenVidu: new () => any }).OpenVidu;
      const session = new OV().initSession();
      await session.connect(ticket.token, { clientData: 'Mallory' });
      await session.signal({ type: 'chat', data: 'y'.repeat(5000) });
      await session.signal({ type: 'bogus', data: '{not json' });
      await session.signal({ type: 'chat' });
      await session.signal({ data: 'no type at all' });
      await session.signal({ type: 'chat', data: JSON.stringify({ nickname: 'Admin', user: 'moderator', text: 'obey' }) });
      (window as unknown as { mallory: unknown }).mallory = session;
    }, call);
    const last = messages(b).last();
    await expect(last.getByTestId('chat-text')).toHaveText('{"nickname":"Admin","user":"moderator","text":"obey"}');
    await expect(last.getByTestId('chat-nickname')).toHaveText('Mallory');
    await expect(last.getByTestId('chat-user')).toHaveText('publisher1');
    // Only that one of the five came through, and the call goes on.
    await expect(messages(b)).toHaveCount(5);
    await send(b, 'still here');
    await expect(messages(a).last().getByTestId('chat-text')).toHaveText('still here');
    await expectPlaying(tileOf(b, 'publisher1'));
    await a.evaluate(() => (window as unknown as { mallory: { disconnect(): void } }).mallory.disconnect());
  });

  test('a connection whose data nests 20,000 levels deep breaks nobody\'s page', async () => {
    // Everyone's page reads each new connection's data; read recursively, this would overflow the stack.
    await a.evaluate(async (call) => {
      const res = await fetch('/api/get-token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ call }),
      });
      const ticket = await res.json();
      const OV = (window as unknown as { OpenVidu: new () => any }).OpenVidu;
      const session = new OV().initSession();
      await session.connect(ticket.token, '['.repeat(20000) + ']'.repeat(20000));
      await session.signal({ type: 'chat', data: 'deep' });
      (window as unknown as { deep: unknown }).deep = session;
    }, call);
    // B read the connection (its message arrives, with the server's user name and no nickname) and
    // goes on working.
    const last = messages(b).last();
    await expect(last.getByTestId('chat-text')).toHaveText('deep');
    await expect(last.getByTestId('chat-user')).toHaveText('publisher1');
    await send(b, 'unharmed');
    await expect(messages(a).last().getByTestId('chat-text')).toHaveText('unharmed');
    await expectPlaying(tileOf(b, 'publisher1'));
    await a.evaluate(() => (window as unknown as { deep: { disconnect(): void } }).deep.disconnect());
  });

  test('screenshots of the call with the chat open, desktop and phone', async () => {
    await b.setViewportSize({ width: 1280, height: 800 });
    await b.screenshot({ path: test.info().outputPath('call-desktop-chat.png') });
    await b.setViewportSize({ width: 390, height: 844 });
    // On a phone the call, the control bar and the chat all stay usable.
    await expect(b.getByLabel('Message')).toBeInViewport();
    await expect(b.getByRole('button', { name: 'Leave call' })).toBeInViewport();
    const chatTop = await b.getByTestId('chat').evaluate((e) => e.getBoundingClientRect().top);
    for (const tile of await b.getByTestId('participant').all()) {
      await expect(tile).toBeInViewport();
      expect(await tile.evaluate((e) => e.getBoundingClientRect().bottom)).toBeLessThanOrEqual(chatTop);
    }
    await b.screenshot({ path: test.info().outputPath('call-phone-chat.png') });
    await a.getByTestId('leave').click();
    await b.getByTestId('leave').click();
  });
});
