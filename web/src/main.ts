// Entry point: the sign-in screen, then the chat. Signing out or losing the session reloads
// the page, so every listener starts afresh.
import { ApiError } from './api.js';
import { startChat } from './chat.js';
import { byId, show } from './dom.js';
import { TokenSource, clearSession, loadSession, signInDev, signInWithToken, type Session } from './session.js';

const NOTICE_KEY = 'relaygate.notice';

function showLogin(): void {
  show(byId('login-view'), true);
  show(byId('app-view'), false);
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  const error = byId('login-error');
  if (notice) error.textContent = notice;
  const form = byId<HTMLFormElement>('login-form');
  const name = byId<HTMLInputElement>('login-name');
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
  name.focus();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    signInDev(name.value.trim()).then(enter, (err: unknown) => {
      submit.disabled = false;
      error.textContent = err instanceof ApiError ? err.message : String(err);
    });
  });
  byId('login-token-submit').addEventListener('click', () => {
    error.textContent = '';
    try {
      enter(signInWithToken(byId<HTMLTextAreaElement>('login-token').value));
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });
}

function enter(session: Session): void {
  show(byId('login-view'), false);
  show(byId('app-view'), true);
  byId('me').textContent = session.userId;
  const signOut = byId('signout');
  show(signOut, true);
  const chat = startChat(new TokenSource(session), (reason) => {
    chat.stop();
    clearSession();
    sessionStorage.setItem(NOTICE_KEY, reason);
    location.reload();
  });
  signOut.addEventListener('click', () => {
    chat.stop();
    clearSession();
    location.reload();
  });
}

const session = loadSession();
if (session && (session.mode === 'dev' || session.expiresAt > Date.now())) enter(session);
else {
  clearSession();
  showLogin();
}
