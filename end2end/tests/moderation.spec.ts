// The participants panel and moderation: everyone listed with role, microphone and camera state; a MODERATOR
// (and only one) stops a participant's camera or removes them, each after a confirmation; the person
// affected is told in words; acting on someone who already left is harmless.
import { expect, Page } from '@playwright/test';
import { test } from './browser';
import { AppServer } from './server';
import { closeContexts, expectPlaying, join, loggedInPage, openPanel, tileOf } from './helpers';

const server = new AppServer(5000 + Math.floor(Math.random() * 1000) + 18000);

test.beforeAll(async () => {
  await server.start();
});
test.afterAll(async ({ browser }) => {
  await closeContexts(browser);
  await server.stop();
});

function person(page: Page, user: string) {
  return page.locator(`[data-testid="person"][data-user="${user}"]`);
}

test.describe.serial('moderation', () => {
  let mod: Page, b: Page;
  const call = 'Moderated';

  test('everyone is listed with role, microphone and camera state; a publisher gets no moderator buttons', async ({ browser }) => {
    mod = await loggedInPage(browser, server.url, 'moderator');
    b = await loggedInPage(browser, server.url, 'publisher2');
    await join(mod, call, 'Mia');
    await join(b, call, 'Bob');
    await expectPlaying(tileOf(mod, 'publisher2'));
    await openPanel(b, 'Participants');
    await expect(b.getByRole('heading', { name: 'Participants (2)' })).toBeVisible();
    await expect(person(b, 'moderator')).toContainText('Mia');
    await expect(person(b, 'moderator').getByTestId('person-media')).toHaveText('Microphone on, camera on');
    // Everyone's role, as the server set it: the others' too.
    await expect(person(b, 'moderator').getByTestId('role')).toHaveText('Moderator');
    await expect(person(b, 'publisher2').getByTestId('role')).toHaveText('Publisher');
    await expect(b.getByTestId('people-panel').getByRole('button', { name: /^Remove/ })).toHaveCount(0);
    await expect(b.getByTestId('people-panel').getByRole('button', { name: /^Stop camera/ })).toHaveCount(0);
    // The state follows the controls.
    await mod.getByRole('button', { name: 'Microphone' }).click();
    await expect(person(b, 'moderator').getByTestId('person-media')).toHaveText('Microphone off, camera on');
  });

  test('the moderator stops B\'s camera: B is told, and the moderator no longer sees B\'s video', async () => {
    await openPanel(mod, 'Participants');
    await person(mod, 'publisher2').getByRole('button', { name: /^Stop camera/ }).click();
    const confirm = mod.getByTestId('confirm');
    await expect(confirm).toContainText('Stop Bob (publisher2)\'s camera and microphone?');
    // Cancelling does nothing.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(tileOf(mod, 'publisher2')).toHaveCount(1);
    await person(mod, 'publisher2').getByRole('button', { name: /^Stop camera/ }).click();
    await mod.getByTestId('confirm').getByRole('button', { name: 'Stop camera and microphone' }).click();
    await expect(b.getByTestId('call-notice')).toContainText('A moderator stopped your camera and microphone');
    await expect(tileOf(mod, 'publisher2')).toHaveCount(0);
    await expect(person(mod, 'publisher2').getByTestId('person-media')).toHaveText('Not sending camera or microphone');
    await expect(b.getByRole('button', { name: 'Camera' })).toHaveCount(0);
  });

  test('the moderator removes B: B is told, and the list no longer has B', async () => {
    await openPanel(b, 'Chat');
    await person(mod, 'publisher2').getByRole('button', { name: /^Remove/ }).click();
    await expect(mod.getByTestId('confirm')).toContainText('Remove Bob (publisher2) from the call?');
    await mod.getByTestId('confirm').getByRole('button', { name: 'Remove' }).click();
    await expect(b.getByTestId('call-error')).toContainText('A moderator removed you from the call');
    await expect(person(mod, 'publisher2')).toHaveCount(0);
    await expect(mod.getByRole('heading', { name: 'Participants (1)' })).toBeVisible();
    // What was said before (the stopped camera) is gone; B cannot write in a call it is not in.
    await expect(b.getByTestId('call-notice')).toHaveCount(0);
    await expect(b.getByLabel('Message')).toBeDisabled();
    await expect(b.getByTestId('chat-limit')).toHaveText('You are no longer in this call: messages can no longer be sent.');
    // The way on is said where the reason is: back to the start, and B can join again.
    await b.getByTestId('call-error').getByRole('button', { name: 'Back to the start page' }).click();
    await expect(b.getByRole('button', { name: 'Join', exact: true })).toBeVisible();
  });

  test('removing someone who has just left is harmless', async ({ browser }) => {
    const c = await loggedInPage(browser, server.url, 'publisher1');
    await join(c, call, 'Cy');
    await expect(person(mod, 'publisher1')).toHaveCount(1);
    await person(mod, 'publisher1').getByRole('button', { name: /^Remove/ }).click();
    await c.getByTestId('leave').click();
    await expect(person(mod, 'publisher1')).toHaveCount(0);
    await mod.getByTestId('confirm').getByRole('button', { name: 'Remove' }).click();
    await expect(mod.getByTestId('confirm')).toHaveCount(0);
    await expect(mod.getByTestId('people-panel').getByRole('alert')).toHaveCount(0);
    await expect(mod.getByTestId('call-error')).toHaveCount(0);
    // The moderator's call goes on: someone joining is seen.
    await join(c, call, 'Cy again');
    await expectPlaying(tileOf(mod, 'publisher1'));
    await c.getByTestId('leave').click();
    await mod.getByTestId('leave').click();
  });
});
