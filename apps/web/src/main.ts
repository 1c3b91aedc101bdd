import { ChorusClient, ChorusError } from '@chorus/client';
import { currentUser, gatewayUrls, signIn, signOut, type SignedIn } from './auth';
import { h, replaceChildren } from './dom';
import { LatencyProbe, exposeDebug } from './debug';
import { DiscoveryPanel } from './discovery';
import { SessionView } from './session-view';
import { TemplatesPanel } from './templates';
import { transportChoice } from './transport';
import './style.css';

// The Chorus browser app. Three screens: `/` (sign in, create a session), `/join/<token-or-code>` (redeem an
// invite), `/s/<session_id>` (the session). Everything goes through @chorus/client.

const root = document.getElementById('app') as HTMLElement;
let client: ChorusClient | null = null;
let view: SessionView | null = null;
const probe = new LatencyProbe();
// Read at load, while `?transport=` is still in the URL (sign-in navigates away from it); kept for the tab.
const transport = transportChoice();

function clientFor(user: SignedIn): ChorusClient {
  client ??= new ChorusClient({ url: gatewayUrls(), token: () => user.token, transport });
  return client;
}

function navigate(path: string): void {
  history.pushState(null, '', path);
  void route();
}

window.addEventListener('popstate', () => void route());

async function route(): Promise<void> {
  const path = location.pathname;
  const user = currentUser();
  if (!user) return renderSignIn(path);
  const join = /^\/join\/([^/]+)$/.exec(path);
  if (join) return redeem(user, decodeURIComponent(join[1]));
  const session = /^\/s\/([0-9a-f-]{36})$/.exec(path);
  if (session) return openSession(user, session[1]);
  renderHome(user);
}

function renderSignIn(then: string): void {
  const name = h('input', { name: 'display_name', 'data-testid': 'name', placeholder: 'Your name', required: true, autocomplete: 'off' });
  const agent = h('input', { type: 'checkbox', name: 'agent', 'data-testid': 'agent' });
  const error = h('p', { class: 'error', 'data-testid': 'error' });
  replaceChildren(
    root,
    h(
      'form',
      {
        class: 'card',
        'data-testid': 'sign-in',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            await signIn(gatewayUrls()[0], name.value.trim(), agent.checked ? 'agent' : 'human');
            navigate(then);
          } catch (err) {
            error.textContent = describe(err);
          }
        },
      },
      h('h1', {}, 'Chorus'),
      h('p', {}, 'Sign in with a development token (servers started with DEV_TOKENS=true).'),
      name,
      h('label', {}, agent, ' I am an agent'),
      h('button', { type: 'submit' }, 'Sign in'),
      error,
    ),
  );
  name.focus();
}

function renderHome(user: SignedIn): void {
  const name = h('input', { name: 'session_name', 'data-testid': 'session-name', placeholder: 'Session name', value: 'My session' });
  const code = h('input', { name: 'code', 'data-testid': 'join-code', placeholder: 'Invite code or link' });
  const error = h('p', { class: 'error', 'data-testid': 'error' });
  // Templates and public discovery (docs/session-admin.md "In the browser app").
  const templates = new TemplatesPanel(clientFor(user), () => name.value.trim(), (id) => navigate(`/s/${id}`));
  const discovery = new DiscoveryPanel(clientFor(user), (id) => navigate(`/s/${id}`));
  replaceChildren(
    root,
    h(
      'div',
      { class: 'card home' },
      h('h1', {}, 'Chorus'),
      h(
        'p',
        {},
        `Signed in as ${user.displayName}${user.kind === 'agent' ? ' (agent)' : ''}, user id `,
        // What an owner types to address an invite to this user.
        h('code', { 'data-testid': 'user-id' }, user.userId),
        '. ',
        h('a', { href: '#', onclick: (e: Event) => (e.preventDefault(), signOut(), navigate('/')) }, 'Sign out'),
      ),
      h(
        'form',
        {
          'data-testid': 'create-session',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            try {
              const created = await clientFor(user).rest.createSession({ name: name.value.trim() || 'Untitled' });
              navigate(`/s/${created.session_id}`);
            } catch (err) {
              error.textContent = describe(err);
            }
          },
        },
        name,
        h('button', { type: 'submit' }, 'Create a session'),
      ),
      h(
        'form',
        {
          onsubmit: (e: Event) => {
            e.preventDefault();
            const value = code.value.trim().replace(/^.*\/join\//, '');
            if (value !== '') navigate(`/join/${encodeURIComponent(value)}`);
          },
        },
        code,
        h('button', { type: 'submit' }, 'Join'),
      ),
      error,
      templates.root,
      discovery.root,
    ),
  );
  void templates.refresh();
  void discovery.load();
}

async function redeem(user: SignedIn, codeOrToken: string): Promise<void> {
  replaceChildren(root, h('p', { class: 'card' }, 'Joining…'));
  try {
    const grant = await clientFor(user).rest.redeemInvite(codeOrToken);
    history.replaceState(null, '', `/s/${grant.session_id}`);
    await openSession(user, grant.session_id);
  } catch (err) {
    replaceChildren(root, h('div', { class: 'card' }, h('p', { class: 'error', 'data-testid': 'error' }, `This invite did not work: ${describe(err)}`), h('a', { href: '/' }, 'Home')));
  }
}

async function openSession(user: SignedIn, sessionId: string): Promise<void> {
  const c = clientFor(user);
  if (view?.session.id === sessionId) return;
  view = new SessionView(c, c.session(sessionId), (peerId, inserted) => probe.remoteRendered(peerId, inserted));
  replaceChildren(root, view.root);
  try {
    await view.start();
  } catch (err) {
    replaceChildren(root, h('div', { class: 'card' }, h('p', { class: 'error', 'data-testid': 'error' }, `Could not open the session: ${describe(err)}`), h('a', { href: '/' }, 'Home')));
  }
}

function describe(err: unknown): string {
  return err instanceof ChorusError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

exposeDebug(() => ({ client, view }), probe);
void route();
