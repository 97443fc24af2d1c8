// The arithmetic that keeps the reader's place when earlier messages are put above the ones on
// screen, and that decides when reaching the top loads another page. No DOM here: the hook
// (useEarlierMessages) measures, these functions decide, so they can be tested without layout.

/** Within this many pixels of the top, a scroll loads the next earlier page. */
export const LOAD_EARLIER_THRESHOLD_PX = 200;

/**
 * The first of `items` (their top and bottom edges, top to bottom, in the same coordinates as
 * `viewTop`) that shows at least in part below `viewTop`; -1 if none.
 */
export function topVisibleIndex(items: { top: number; bottom: number }[], viewTop: number): number {
  return items.findIndex((item) => item.bottom > viewTop);
}

/**
 * Where to scroll so that the anchor (the message the reader was looking at) is back where it
 * was on screen: it moved from `anchorTopBefore` to `anchorTopAfter` (its top relative to the
 * scroller's viewport) when the earlier messages went in above it.
 *
 * An element, not the scroller's scrollHeight: an answer streaming at the bottom in the same
 * commit grows scrollHeight too, and must not move the reader.
 */
export function anchoredScrollTop(
  scrollTop: number,
  anchorTopBefore: number,
  anchorTopAfter: number,
): number {
  return Math.max(0, scrollTop + (anchorTopAfter - anchorTopBefore));
}

/**
 * How many messages went in before the ones shown: the index the previous first message has
 * now. 0 when nothing was prepended, or when the list is another one (a conversation switch).
 */
export function prependedCount(previousFirstId: string | null, ids: string[]): number {
  if (previousFirstId === null) return 0;
  return Math.max(0, ids.indexOf(previousFirstId));
}

export interface EarlierLoadState {
  /** The server has messages older than the ones shown. */
  hasEarlier: boolean;
  /** The newest page, or an earlier one, is on its way. */
  isLoading: boolean;
  /** The last load failed: the button retries it, scrolling does not hammer the server. */
  hasError: boolean;
  /** The reader has scrolled up from the bottom (the view does not follow the answer). */
  hasScrolledUp: boolean;
  scrollTop: number;
}

/** Whether being this close to the top loads the next earlier page now. */
export function shouldLoadEarlier(state: EarlierLoadState): boolean {
  return (
    state.hasEarlier &&
    !state.isLoading &&
    !state.hasError &&
    state.hasScrolledUp &&
    state.scrollTop <= LOAD_EARLIER_THRESHOLD_PX
  );
}

/** What the polite live region says once earlier messages are in. */
export function earlierLoadedAnnouncement(count: number, hasEarlier: boolean): string {
  const what = count === 1 ? '1 earlier message' : `${count} earlier messages`;
  return hasEarlier ? `Loaded ${what}.` : `Loaded ${what}: the start of the conversation.`;
}
