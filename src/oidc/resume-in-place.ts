import type { Context } from 'koa';
import type { AdapterPayload, Interaction } from 'oidc-provider';

/**
 * Finishing an authorization in the request that completed its sign-in.
 *
 * oidc-provider's way is two requests: the sign-in's API call saves the interaction's result and
 * answers with the resume URL (`/auth/:uid`); the browser then follows it, and the resume reads
 * the interaction back, issues the code and redirects to the relying party. Here the API call
 * runs oidc-provider's resume itself, on the interaction it already holds, and answers with
 * where the resume would have redirected: the relying party's callback (or the next step of the
 * authorization, such as consent). The browser goes there straight away: one request and two
 * Redis round trips fewer (the result's save and the resume's read), and one network round trip
 * fewer for the member, which a phone on a slow network feels.
 *
 * Nothing is given up. The resume runs exactly as it would have, with its checks: the API call
 * already proved the browser holds the interaction's cookie, which is set with the resume cookie
 * that the resume checks, so the resume cookie is supplied to it. When the resume does not end in
 * a redirect (oidc-provider asks a member signed in as someone else to confirm signing out first,
 * which is a page), the interaction is saved with its result and the answer is the resume URL,
 * as before, unless the resume already used it up.
 */

/** The interaction a request offers to its in-place resume, and what the resume did with it. */
interface Offer {
  id: string;
  payload: AdapterPayload;
  /** The resume read it (from here, not from the store). */
  taken: boolean;
  /** The resume saved it again or destroyed it: the store has, or is about to have, what it should. */
  written: boolean;
}

const offers = new WeakMap<object, Offer>();

/**
 * The interaction `ctx` offers for `id` (read by the resume without the store), or undefined.
 * Called by the Interaction adapter in a resume request.
 */
export function takeOfferedInteraction(ctx: object, id: string): AdapterPayload | undefined {
  const offer = offers.get(ctx);
  if (!offer || offer.id !== id || offer.taken) return undefined;
  offer.taken = true;
  return offer.payload;
}

/**
 * Records that the resume in `ctx` saved or destroyed the interaction it was offered as `id`;
 * false when it was not offered one (or did not take it).
 */
export function offeredInteractionWritten(ctx: object, id: string): boolean {
  const offer = offers.get(ctx);
  if (!offer || offer.id !== id || !offer.taken) return false;
  offer.written = true;
  return true;
}

/** Response modes whose answer is a redirect (the only ones finished in place). */
const redirectModes = new Set([undefined, 'query', 'fragment']);

interface Payloads { getValueAndPayload(): Promise<{ payload: AdapterPayload }> }

export interface ResumeInPlaceDeps {
  /** oidc-provider's cookie name for the resume (`provider.cookieName('resume')`). */
  resumeCookie: string;
  /** Signs a cookie as Koa and oidc-provider do (`name=value`). */
  sign: (data: string) => string;
  /** Runs oidc-provider on a request context, as the app does for its own routes (held writes included). */
  runProvider: (ctx: Context) => Promise<void>;
}

/**
 * Returns `finish(ctx, interaction)`: with the interaction's result already set (not saved),
 * runs the resume in `ctx` and answers the URL the browser goes to next.
 */
export function resumeInPlace(deps: ResumeInPlaceDeps) {
  return async function finish(ctx: Context, interaction: Interaction): Promise<string> {
    const ttl = () => interaction.exp - Math.floor(Date.now() / 1000);
    const resumeUrl = interaction.returnTo;
    if (!redirectModes.has(interaction.params.response_mode as string | undefined)) {
      await interaction.save(ttl());
      return resumeUrl;
    }
    // What interaction.save() would store (oidc-provider's own model method, not in its types).
    const { payload } = await (interaction as unknown as Payloads).getValueAndPayload();
    const offer: Offer = { id: interaction.uid, payload, taken: false, written: false };
    offers.set(ctx, offer);

    const { method, url } = ctx;
    const cookies = ctx.request.headers.cookie;
    const pair = `${deps.resumeCookie}=${interaction.uid}`;
    const target = new URL(resumeUrl);
    ctx.method = 'GET';
    ctx.url = target.pathname + target.search;
    ctx.request.headers.cookie = `${pair}; ${deps.resumeCookie}.sig=${deps.sign(pair)}${cookies ? `; ${cookies}` : ''}`;
    try {
      await deps.runProvider(ctx);
    } finally {
      offers.delete(ctx);
      ctx.method = method;
      ctx.url = url;
      ctx.request.headers.cookie = cookies;
    }

    const location = ctx.status >= 300 && ctx.status < 400 ? ctx.response.get('Location') : '';
    // The provider's answer (a redirect, or a page) makes way for the caller's JSON.
    for (const header of ['Location', 'Content-Type', 'Content-Length']) ctx.remove(header);
    ctx.status = 200;
    // Absolute, as the resume URL was (oidc-provider's next step for this interaction, such as consent, is a path).
    if (location) return new URL(location, resumeUrl).href;
    // Not a redirect: the browser follows the resume URL, as it did before, to get the page.
    if (!offer.written) await interaction.save(ttl());
    return resumeUrl;
  };
}
